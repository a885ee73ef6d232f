// What the runtime needs to know about a GGUF before llama.cpp opens it, read by ownlm's hardened parser:
// llama.cpp and node-llama-cpp's reader can spin for minutes on a bad header (docs/ARCHITECTURE.md#serving), so
// they only ever see files this parser accepted.
import { statSync, type Stats } from 'node:fs';
import { readGgufHeader, type GgufHeader, type GgufValue } from '@ownlm/studio';
import { AppError } from '../errors.ts';

export interface ModelFile {
  path: string;
  bytes: number;
  architecture: string;
  trainContextLength: number;
  embeddingSize: number;
  parameterCount: number;
  chatTemplate: string | null;
  /** Bytes of KV cache one context position takes (K and V of every layer, f16 as llama.cpp defaults). */
  kvBytesPerPosition: number;
  vocabSize: number;
  /** The most UTF-8 bytes a vocabulary entry is written with: no token stands for more text than this. */
  maxTokenBytes: number;
}

function number(header: GgufHeader, key: string): number | null {
  const entry: GgufValue | undefined = header.metadata.get(key);
  if (entry === undefined) return null;
  const values = entry.type === 'array' ? entry.value : [entry.value];
  // Some architectures give per-layer values (head_count_kv); the largest one bounds the memory.
  const numbers = values.filter((v) => typeof v === 'number' || typeof v === 'bigint').map(Number);
  // reduce, not Math.max(...numbers): a file's array can be longer than a call's arguments may be.
  return numbers.length === 0 ? null : numbers.reduce((a, b) => Math.max(a, b));
}

function required(header: GgufHeader, key: string): number {
  const value = number(header, key);
  if (value === null || !(value > 0))
    throw new AppError(
      'server_error',
      `model file ${header.file}: ${key} is missing or not a positive number; re-export the model with \`ownlm export\``,
    );
  return value;
}

function stringValue(header: GgufHeader, key: string): string | null {
  const entry = header.metadata.get(key);
  return entry?.type === 'string' ? String(entry.value) : null;
}

function readHeader(path: string): GgufHeader {
  try {
    return readGgufHeader(path);
  } catch (error) {
    const detail = error instanceof Error ? error.message : String(error);
    if ((error as { code?: unknown }).code === 'not-found')
      throw new AppError(
        'model_not_found',
        `model file ${path} does not exist (${detail}); re-register the model`,
      );
    throw new AppError(
      'server_error',
      `model file ${path} is not a valid GGUF: ${detail}; replace it with a file from \`ownlm export\``,
    );
  }
}

/** A GGUF LoRA adapter (docs/FORMATS.md#gguf-lora-adapters) as llama.cpp's run-time LoRA loads it on a base. */
export interface AdapterFile {
  path: string;
  bytes: number;
  /** Must equal the base model's `general.architecture`. */
  architecture: string;
}

/**
 * Validates a LoRA adapter with the hardened parser and checks the keys llama.cpp aborts on (general.type,
 * adapter.type, an f32 adapter.lora.alpha), so llama.cpp never sees a file it would crash on.
 */
export function inspectAdapterFile(path: string): AdapterFile {
  const header = readHeader(path);
  const fault = (field: string, expected: string) =>
    new AppError(
      'server_error',
      `adapter file ${path}: ${field} must be ${expected}; export the adapter again with \`ownlm finetune\``,
    );
  if (stringValue(header, 'general.type') !== 'adapter') throw fault('general.type', "'adapter'");
  if (stringValue(header, 'adapter.type') !== 'lora') throw fault('adapter.type', "'lora'");
  const alpha = header.metadata.get('adapter.lora.alpha');
  if (alpha !== undefined && alpha.type !== 'f32') throw fault('adapter.lora.alpha', 'an f32');
  const architecture = stringValue(header, 'general.architecture');
  if (architecture === null) throw fault('general.architecture', "the base model's architecture");
  return { path, bytes: statSync(path).size, architecture };
}

/**
 * The UTF-8 length of the longest vocabulary entry. An entry's text is never shorter than the text its token
 * stands for (SentencePiece writes a space as the 3-byte '▁', byte-level BPE a byte as a 1- or 2-byte character,
 * a byte token as '<0x0A>'), so this bounds the bytes per token of any text; without a vocabulary in the file
 * there is no bound.
 */
function longestEntry(tokens: GgufValue | undefined): number {
  if (tokens?.type !== 'array') return Infinity;
  let longest = 1;
  for (const token of tokens.value)
    if (typeof token === 'string') longest = Math.max(longest, Buffer.byteLength(token));
  return longest;
}

/** Validates the file with the hardened GGUF parser and reads its shape; a bad file is an AppError naming it. */
export function inspectModelFile(path: string): ModelFile {
  const header = readHeader(path);
  if (stringValue(header, 'general.type') === 'adapter')
    throw new AppError(
      'server_error',
      `model file ${path} is a LoRA adapter (general.type = adapter), not a whole model; register it with its ` +
        'base model (a fine-tune does) so it is served on that base',
    );
  const architecture = stringValue(header, 'general.architecture');
  if (architecture === null)
    throw new AppError(
      'server_error',
      `model file ${path}: general.architecture is missing; it is not a model GGUF`,
    );
  const embeddingSize = required(header, `${architecture}.embedding_length`);
  const layers = required(header, `${architecture}.block_count`);
  const heads = required(header, `${architecture}.attention.head_count`);
  const kvHeads = number(header, `${architecture}.attention.head_count_kv`) ?? heads;
  const keyLength = number(header, `${architecture}.attention.key_length`) ?? embeddingSize / heads;
  const valueLength = number(header, `${architecture}.attention.value_length`) ?? embeddingSize / heads;
  const template = header.metadata.get('tokenizer.chat_template');
  const tokens = header.metadata.get('tokenizer.ggml.tokens');
  return {
    path,
    bytes: statSync(path).size,
    architecture,
    trainContextLength: required(header, `${architecture}.context_length`),
    embeddingSize,
    parameterCount: header.tensors.reduce((sum, t) => sum + t.ne.reduce((a, b) => a * b, 1), 0),
    chatTemplate: template?.type === 'string' ? String(template.value) : null,
    kvBytesPerPosition: layers * kvHeads * (keyLength + valueLength) * 2,
    vocabSize: tokens?.type === 'array' ? tokens.value.length : 0,
    maxTokenBytes: longestEntry(tokens),
  };
}

/**
 * `inspect` remembered per path: a file is read again only once its size or modification time has changed.
 * Failures are not remembered, so a missing or bad file is refused by `inspect` each time.
 */
export function inspectedOnce<T>(inspect: (path: string) => T): (path: string) => T {
  const inspected = new Map<string, { size: number; mtimeMs: number; value: T }>();
  return (path) => {
    let stats: Stats;
    try {
      stats = statSync(path);
    } catch {
      return inspect(path);
    }
    const known = inspected.get(path);
    if (known?.size === stats.size && known.mtimeMs === stats.mtimeMs) return known.value;
    const value = inspect(path);
    inspected.set(path, { size: stats.size, mtimeMs: stats.mtimeMs, value });
    return value;
  };
}

/**
 * Memory a loaded model holds: the weights (mapped from the file), the KV cache of every sequence, and the
 * logits and compute buffers. Measured with the 136 MB `base` preset at Q8_0: a 256-position context added
 * 8 MB of RSS with 1 sequence and 72 MB with 8 (the KV cache, 75 MB by this formula).
 */
export function residentBytes(file: ModelFile, contextSize: number, sequences: number): number {
  const logits = file.vocabSize * 4 * sequences;
  const compute = 16 * 2 ** 20;
  return file.bytes + file.kvBytesPerPosition * contextSize * sequences + logits + compute;
}
