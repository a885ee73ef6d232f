// llama.cpp's tokenizer off the event loop. node-llama-cpp tokenizes synchronously on the calling thread (a
// 3.9 MB prompt held the server's event loop for 7.3 s, a 32 MB dataset's statistics for longer), so the runtime
// tokenizes in a child process (./tokenizer-child.mjs) that opens each model's vocabulary only. A process, not a
// worker thread: a thread holding a llama.cpp model aborts the whole server when it is terminated
// (node-llama-cpp 3.22: "terminate called after throwing an instance of 'Napi::Error'").
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { LlamaTextJSON } from 'node-llama-cpp';
import { AppError } from '../errors.ts';

/** What to tokenize: text (special-token markup parsed only with `special`), or a rendered chat template. */
export type TokenizerInput = { text: string; special: boolean } | { llamaText: LlamaTextJSON };

type Request = TokenizerInput | { texts: string[] };

interface Pending {
  resolve(value: Uint32Array): void;
  reject(error: Error): void;
}

/** Characters of text per message to the process when counting. */
const BATCH_CHARACTERS = 2 ** 20;

const CHILD = fileURLToPath(new URL('./tokenizer-child.mjs', import.meta.url));

/**
 * The tokenizer process of one runtime, started on first use and again after it exits. Callers pass GGUF
 * files the runtime has already validated (llama.cpp never parses a file first).
 */
export class TokenizerProcess {
  private child: ChildProcess | null = null;
  private readonly pending = new Map<number, Pending>();
  private nextId = 0;

  /** Token ids of the input with the vocabulary of the GGUF at `path`. */
  async tokenize(path: string, input: TokenizerInput): Promise<number[]> {
    return Array.from(await this.request(path, input));
  }

  /** The number of tokens of each text (plain text), in order. */
  async count(path: string, texts: string[]): Promise<number[]> {
    const counts: number[] = [];
    for (let start = 0; start < texts.length;) {
      // Sent in batches, so that copying one message never holds the event loop long.
      let end = start + 1;
      for (let chars = texts[start]!.length; end < texts.length; end++) {
        chars += texts[end]!.length;
        if (chars > BATCH_CHARACTERS) break;
      }
      for (const count of await this.request(path, { texts: texts.slice(start, end) })) counts.push(count);
      start = end;
    }
    return counts;
  }

  /** Stops the process; requests still waiting are refused. */
  async close(): Promise<void> {
    const child = this.child;
    if (!child) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill();
    await exited;
  }

  private request(path: string, request: Request): Promise<Uint32Array> {
    const child = this.child ?? this.start();
    const id = this.nextId++;
    // Only a request in flight keeps the server's process alive.
    if (this.pending.size === 0) child.channel?.ref();
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      child.send({ id, path, ...request });
    });
  }

  private start(): ChildProcess {
    const child = fork(CHILD, [], {
      // The parent's flags (the TypeScript loader) are not needed by the plain-JavaScript child.
      execArgv: [],
      serialization: 'advanced',
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    child.unref();
    child.on('message', (reply: { id: number; value?: Uint32Array; error?: string }) => {
      const entry = this.pending.get(reply.id);
      if (!entry) return;
      this.pending.delete(reply.id);
      if (this.pending.size === 0) child.channel?.unref();
      if (reply.error === undefined) entry.resolve(reply.value!);
      else entry.reject(new AppError('server_error', `llama.cpp could not tokenize: ${reply.error}`));
    });
    child.on('exit', (code, signal) => {
      if (this.child === child) this.child = null;
      const error = new AppError(
        'server_error',
        `the tokenizer process exited (${signal ?? `code ${code}`}); retry the request`,
      );
      for (const entry of this.pending.values()) entry.reject(error);
      this.pending.clear();
    });
    this.child = child;
    return child;
  }
}
