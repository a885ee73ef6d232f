// Where each line of a stored split starts, so that a preview reads only its page: `<split>.jsonl.index` beside
// the file, little-endian float64 byte offsets of every line's start and then of the file's end (docs/FORMATS.md
// #conversation-datasets). Written when a dataset is stored, and on the first preview of one stored before;
// an index whose last offset is not the file's size is stale and written again.
import { randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open, rename, rm, stat, writeFile } from 'node:fs/promises';

const NEWLINE = 0x0a;
const OFFSET_BYTES = 8;

export const indexPath = (file: string) => `${file}.index`;

/** Reads the file in chunks (the event loop stays free) and writes its index atomically. */
export async function writeLineIndex(file: string): Promise<void> {
  const offsets: number[] = [];
  let position = 0;
  for await (const chunk of createReadStream(file, { highWaterMark: 2 ** 20 }) as AsyncIterable<Buffer>) {
    if (position === 0 && chunk.length > 0) offsets.push(0);
    for (let at = chunk.indexOf(NEWLINE); at >= 0; at = chunk.indexOf(NEWLINE, at + 1))
      offsets.push(position + at + 1);
    position += chunk.length;
  }
  // The offset after a final newline is the file's end, not a line's start.
  if (offsets.at(-1) !== position) offsets.push(position);
  const temporary = `${indexPath(file)}.${randomBytes(6).toString('hex')}`;
  try {
    await writeFile(temporary, new Uint8Array(Float64Array.from(offsets).buffer));
    await rename(temporary, indexPath(file));
  } catch (error) {
    await rm(temporary, { force: true });
    throw error;
  }
}

/** The offsets of lines [first, first + count] (clamped to the file) and the number of lines, or null if stale. */
async function readOffsets(file: string, first: number, count: number) {
  const size = (await stat(file)).size;
  let index;
  try {
    index = await open(indexPath(file));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
  try {
    const entries = (await index.stat()).size / OFFSET_BYTES;
    if (!Number.isInteger(entries) || entries < 1) return null;
    const lines = entries - 1;
    const start = Math.min(first, lines);
    const wanted = Math.min(count, lines - start) + 1;
    const bytes = new Uint8Array(wanted * OFFSET_BYTES);
    await index.read(bytes, 0, bytes.length, start * OFFSET_BYTES);
    const end = new Uint8Array(OFFSET_BYTES);
    await index.read(end, 0, OFFSET_BYTES, lines * OFFSET_BYTES);
    if (new Float64Array(end.buffer)[0] !== size) return null;
    return { offsets: new Float64Array(bytes.buffer), lines };
  } finally {
    await index.close();
  }
}

/** Lines [first, first + count) of the file without their newlines, and how many lines it has. */
export async function readLines(
  file: string,
  first: number,
  count: number,
): Promise<{ lines: string[]; total: number }> {
  let found = await readOffsets(file, first, count);
  if (!found) {
    await writeLineIndex(file);
    found = await readOffsets(file, first, count);
    if (!found) throw new Error(`${indexPath(file)} does not match the file after it was written`);
  }
  const { offsets, lines } = found;
  const from = offsets[0]!;
  const bytes = Buffer.alloc(offsets.at(-1)! - from);
  const handle = await open(file);
  try {
    await handle.read(bytes, 0, bytes.length, from);
  } finally {
    await handle.close();
  }
  const page: string[] = [];
  for (let i = 0; i + 1 < offsets.length; i++) {
    const line = bytes.toString('utf8', offsets[i]! - from, offsets[i + 1]! - from);
    page.push(line.endsWith('\n') ? line.slice(0, -1) : line);
  }
  return { lines: page, total: lines };
}
