// What the runtime needs to know about a GGUF before llama.cpp opens it, read by ownlm's hardened parser:
// llama.cpp and node-llama-cpp's reader can spin for minutes on a malformed header (DESIGN.md, Serving), so
// they only ever see files this parser accepted.
import { statSync } from 'node:fs';
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
}

function number(header: GgufHeader, key: string): number | null {
  const entry: GgufValue | undefined = header.metadata.get(key);
  if (entry === undefined) return null;
  const values = entry.type === 'array' ? entry.value : [entry.value];
  // Some architectures give per-layer values (head_count_kv); the largest one bounds the memory.
  const numbers = values.filter((v) => typeof v === 'number' || typeof v === 'bigint').map(Number);
  return numbers.length === 0 ? null : Math.max(...numbers);
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

/** Validates the file with the hardened GGUF parser and reads its shape; a bad file is an AppError naming it. */
export function inspectModelFile(path: string): ModelFile {
  let header: GgufHeader;
  try {
    header = readGgufHeader(path);
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
  const architectureEntry = header.metadata.get('general.architecture');
  const architecture = architectureEntry?.type === 'string' ? String(architectureEntry.value) : null;
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
