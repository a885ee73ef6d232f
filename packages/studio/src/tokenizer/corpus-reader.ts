// Streams training and packing input as chunks of whole lines: the JSONL a prepared corpus holds
// (`{"id", "source", "text"}` per line) or plain text files. Chunks travel as raw bytes cut after a newline
// (always a UTF-8 character boundary) to worker threads, which decode and parse them, so the reading thread
// only moves bytes.
import { existsSync, statSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { DataError } from '../data/errors.ts';

/** `jsonl`: one object per line, text in the `text` field. `text`: every line (with its ending) is a sequence. */
export type CorpusFormat = 'jsonl' | 'text';

export interface CorpusFile {
  path: string;
  format: CorpusFormat;
  bytes: number;
}

export interface Chunk {
  path: string;
  format: CorpusFormat;
  /** 1-based number of the chunk's first line, for error messages. */
  firstLine: number;
  /** Whole lines of the file (the last one may lack its newline at the end of the file). */
  data: Uint8Array;
}

/**
 * Resolves training inputs: a prepared corpus folder stands for its `<split>.jsonl`, a `.jsonl` file is read
 * as JSONL, anything else as plain text.
 */
export function resolveCorpusFiles(inputs: string[], split = 'train'): CorpusFile[] {
  if (inputs.length === 0)
    throw new DataError(
      'options-invalid',
      'no input given; pass a prepared corpus folder or text/JSONL files',
    );
  return inputs.map((input) => {
    if (!existsSync(input)) throw new DataError('input-not-found', `${input}: no such file or folder`);
    let path = input;
    if (statSync(input).isDirectory()) {
      path = join(input, `${split}.jsonl`);
      if (!existsSync(path)) {
        throw new DataError(
          'input-not-found',
          `${input}: no ${split}.jsonl inside; prepare the corpus first with \`ownlm data prepare\``,
        );
      }
    }
    return { path, format: path.endsWith('.jsonl') ? 'jsonl' : 'text', bytes: statSync(path).size };
  });
}

/** Yields the file in chunks of about `chunkBytes` that end after a newline (a longer line makes a longer chunk). */
export async function* readChunks(file: CorpusFile, chunkBytes = 1 << 20): AsyncGenerator<Chunk> {
  const handle = await open(file.path, 'r');
  try {
    let carry = new Uint8Array(0);
    let firstLine = 1;
    for (;;) {
      const buffer = new Uint8Array(carry.length + chunkBytes);
      buffer.set(carry);
      const { bytesRead } = await handle.read(buffer, carry.length, chunkBytes, null);
      const filled = carry.length + bytesRead;
      const cut = bytesRead === 0 ? filled : buffer.lastIndexOf(0x0a, filled - 1) + 1;
      carry = buffer.slice(cut, filled);
      if (cut > 0) {
        const data = buffer.subarray(0, cut);
        yield { path: file.path, format: file.format, firstLine, data };
        for (let i = data.indexOf(0x0a); i >= 0; i = data.indexOf(0x0a, i + 1)) firstLine++;
      }
      if (bytesRead === 0) return;
    }
  } finally {
    await handle.close();
  }
}

const utf8 = new TextDecoder('utf-8', { ignoreBOM: true });

/**
 * The texts of a chunk: for text files each line with its ending (as the Hugging Face trainer reads files);
 * for JSONL the `text` of each line's object, skipping blank lines. A bad line throws an error naming the
 * file, the line and the field.
 */
export function chunkTexts(chunk: Chunk): string[] {
  const text = utf8.decode(chunk.data);
  if (chunk.format === 'text') return text.split(/(?<=\n)/);
  const texts: string[] = [];
  text.split('\n').forEach((line, i) => {
    if (line.trim() === '') return;
    const where = `${chunk.path}:${chunk.firstLine + i}`;
    let record: unknown;
    try {
      record = JSON.parse(line);
    } catch (error) {
      throw new DataError(
        'input-invalid',
        `${where}: not valid JSON (${(error as Error).message}); each line must be one JSON object`,
      );
    }
    const text =
      record !== null && typeof record === 'object' ? (record as Record<string, unknown>).text : undefined;
    if (typeof text !== 'string')
      throw new DataError('input-invalid', `${where}: field "text" must be a string`);
    texts.push(text);
  });
  return texts;
}
