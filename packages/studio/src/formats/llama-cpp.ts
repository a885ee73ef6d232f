// llama.cpp itself, through node-llama-cpp's prebuilt CPU binaries, as the reference an exported GGUF is
// checked against: its tokenization and its greedy continuations. Nothing is downloaded or compiled at run
// time (build "never", skipDownload), so this works offline and fails fast where no prebuilt binary fits.
// Callers validate the file with readGgufHeader first: llama.cpp must never be the first to parse a GGUF.
import { getLlama, LlamaLogLevel, type Llama } from 'node-llama-cpp';

let shared: Promise<Llama> | null = null;

/** The CPU llama.cpp, loaded once per process. */
export function loadLlamaCpp(): Promise<Llama> {
  shared ??= getLlama({
    gpu: false,
    build: 'never',
    skipDownload: true,
    progressLogs: false,
    logLevel: LlamaLogLevel.error,
  });
  return shared;
}

export interface LlamaCppModel {
  /** llama.cpp's ids for text; `parseSpecial` recognizes special-token text (as ours does by default). */
  tokenize(text: string, parseSpecial: boolean): number[];
  /** `count` greedy tokens after the prompt (end-of-generation tokens included, generation goes on). */
  greedy(prompt: readonly number[], count: number): Promise<number[]>;
  close(): Promise<void>;
}

export interface LlamaCppOptions {
  /** A GGUF LoRA adapter for this base, applied at run time; callers validate it first, as the model. */
  lora?: string;
  /** The adapter's user scale (llama.cpp's --lora-scaled), multiplying alpha / r; default 1. */
  loraScale?: number;
}

/** Opens a GGUF in llama.cpp on the CPU with a context of `contextSize` positions. */
export async function openLlamaCpp(
  path: string,
  contextSize: number,
  options: LlamaCppOptions = {},
): Promise<LlamaCppModel> {
  const llama = await loadLlamaCpp();
  const model = await llama.loadModel({ modelPath: path, gpuLayers: 0 });
  try {
    // One thread: llama.cpp's spinning worker threads and Node's own share the cores, and on a 2-core machine
    // the default thread count made 32 greedy tokens of a tiny model take 20 s instead of 0.01 s.
    const context = await model.createContext({
      contextSize,
      sequences: 1,
      threads: 1,
      lora: options.lora
        ? { adapters: [{ filePath: options.lora, scale: options.loraScale ?? 1 }] }
        : undefined,
    });
    const sequence = context.getSequence();
    return {
      tokenize: (text, parseSpecial) => model.tokenize(text, parseSpecial).map(Number),
      async greedy(prompt, count) {
        await sequence.clearHistory();
        const out: number[] = [];
        if (count <= 0) return out;
        const tokens = prompt.map(Number) as Parameters<typeof sequence.evaluate>[0];
        for await (const token of sequence.evaluate(tokens, { temperature: 0, yieldEogToken: true })) {
          out.push(Number(token));
          if (out.length === count) break;
        }
        return out;
      },
      async close() {
        await context.dispose();
        await model.dispose();
      },
    };
  } catch (error) {
    await model.dispose();
    throw error;
  }
}
