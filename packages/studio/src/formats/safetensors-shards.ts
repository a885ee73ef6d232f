// Hugging Face checkpoints (docs/FORMATS.md#hugging-face-safetensors): one `model.safetensors`, or, above a size,
// `model-00001-of-0000N.safetensors` shards with `model.safetensors.index.json` mapping each tensor to its
// file. Shards are cut as huggingface_hub's `split_state_dict_into_shards` cuts them: tensors in the given
// order fill a shard until the next one would pass the limit; a tensor larger than the limit gets its own.
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { FormatError } from './errors.ts';
import {
  DEFAULT_METADATA,
  readSafetensors,
  tensorByteLength,
  writeAtomically,
  writeSafetensors,
  type SafetensorsTensor,
  type SafetensorsTensorInput,
} from './safetensors.ts';

export const SINGLE_FILE = 'model.safetensors';
export const INDEX_FILE = 'model.safetensors.index.json';
/** transformers' default `max_shard_size` ("5GB", decimal). */
export const DEFAULT_MAX_SHARD_BYTES = 5_000_000_000;

const SHARD_NAME = /^model-(\d{5})-of-(\d{5})\.safetensors$/;

export function shardFileName(index: number, count: number): string {
  return `model-${String(index + 1).padStart(5, '0')}-of-${String(count).padStart(5, '0')}.safetensors`;
}

export interface WriteShardsOptions {
  /** Largest shard in tensor bytes (default 5 GB, as transformers). */
  maxShardBytes?: number;
  metadata?: Readonly<Record<string, string>> | null;
}

/**
 * Writes the tensors into `dir` as model.safetensors, or as shards plus index when they exceed
 * maxShardBytes; removes model files of an earlier layout there. Returns the file names written. Each file
 * is replaced atomically; for an all-or-nothing folder, write into a fresh folder and rename it.
 */
export function writeSafetensorsShards(
  dir: string,
  tensors: readonly SafetensorsTensorInput[],
  options: WriteShardsOptions = {},
): string[] {
  const maxBytes = options.maxShardBytes ?? DEFAULT_MAX_SHARD_BYTES;
  const metadata = options.metadata === undefined ? DEFAULT_METADATA : options.metadata;
  const shards: SafetensorsTensorInput[][] = [];
  let current: SafetensorsTensorInput[] = [];
  let currentBytes = 0;
  let total = 0;
  for (const t of tensors) {
    const bytes = tensorByteLength(t.dtype, t.shape) ?? 0;
    total += bytes;
    if (bytes > maxBytes) {
      shards.push([t]);
      continue;
    }
    if (currentBytes + bytes > maxBytes && current.length > 0) {
      shards.push(current);
      current = [];
      currentBytes = 0;
    }
    current.push(t);
    currentBytes += bytes;
  }
  if (current.length > 0 || shards.length === 0) shards.push(current);

  const names = shards.length === 1 ? [SINGLE_FILE] : shards.map((_, i) => shardFileName(i, shards.length));
  shards.forEach((shard, i) => writeSafetensors(join(dir, names[i]), shard, metadata));
  if (shards.length > 1) {
    const weightMap = shards.flatMap((shard, i) => shard.map((t) => [t.name, names[i]] as const));
    writeAtomically(join(dir, INDEX_FILE), [Buffer.from(indexJson(total, weightMap))]);
  }
  for (const name of readdirSync(dir)) {
    const stale = name === INDEX_FILE ? shards.length === 1 : name === SINGLE_FILE || SHARD_NAME.test(name);
    if (stale && !names.includes(name)) rmSync(join(dir, name));
  }
  return shards.length === 1 ? names : [...names, INDEX_FILE];
}

/** The index as transformers writes it: `json.dumps(index, indent=2, sort_keys=True) + "\n"`. */
function indexJson(totalSize: number, weightMap: (readonly [string, string])[]): string {
  const sorted = [...weightMap].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  // Entries built by hand, as JSON.stringify would reorder integer-like keys.
  const entries = sorted.map(([name, file]) => `    ${JSON.stringify(name)}: ${JSON.stringify(file)}`);
  return `{\n  "metadata": {\n    "total_size": ${totalSize}\n  },\n  "weight_map": {\n${entries.join(',\n')}\n  }\n}\n`;
}

/** True when `dir` holds a single-file or sharded safetensors checkpoint. */
export function hasSafetensorsCheckpoint(dir: string): boolean {
  return existsSync(join(dir, INDEX_FILE)) || existsSync(join(dir, SINGLE_FILE));
}

/**
 * Reads every tensor of a checkpoint folder: the shards listed by model.safetensors.index.json when
 * present, else model.safetensors. Each tensor of the index must be in its file, and no name may repeat.
 */
export function readSafetensorsShards(dir: string): Map<string, SafetensorsTensor> {
  const indexPath = join(dir, INDEX_FILE);
  if (!existsSync(indexPath)) {
    const single = join(dir, SINGLE_FILE);
    if (!existsSync(single))
      throw new FormatError('not-found', dir, '', `no ${SINGLE_FILE} or ${INDEX_FILE} in this folder`);
    return readSafetensors(single).tensors;
  }
  const files = readIndex(indexPath);
  const out = new Map<string, SafetensorsTensor>();
  for (const [file, names] of files) {
    const path = join(dir, file);
    if (!existsSync(path))
      throw new FormatError(
        'not-found',
        indexPath,
        `weight_map`,
        `lists ${file}, which is not in the folder`,
      );
    for (const [name, tensor] of readSafetensors(path, names).tensors) out.set(name, tensor);
  }
  return out;
}

/** weight_map grouped by file, validated: plain .safetensors file names in the same folder. */
function readIndex(indexPath: string): Map<string, string[]> {
  const fail = (field: string, detail: string) => new FormatError('invalid', indexPath, field, detail);
  let index: unknown;
  try {
    index = JSON.parse(readFileSync(indexPath, 'utf8'));
  } catch (error) {
    throw fail('', `not valid JSON (${(error as Error).message})`);
  }
  const weightMap = (index as { weight_map?: unknown } | null)?.weight_map;
  if (typeof weightMap !== 'object' || weightMap === null || Array.isArray(weightMap))
    throw fail('weight_map', 'must be an object of tensor name → file name');
  const files = new Map<string, string[]>();
  for (const [name, file] of Object.entries(weightMap)) {
    if (typeof file !== 'string' || !/^[^/\\]+\.safetensors$/.test(file) || file.startsWith('.'))
      throw fail(
        `weight_map["${name}"]`,
        `must name a .safetensors file in the same folder, got ${JSON.stringify(file)}`,
      );
    files.set(file, [...(files.get(file) ?? []), name]);
  }
  return files;
}
