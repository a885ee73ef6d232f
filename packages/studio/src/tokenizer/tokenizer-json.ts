// Reads a Hugging Face byte-level BPE tokenizer.json (docs/FORMATS.md#tokenizer-json: GPT-2, Llama 3, Qwen 2
// styles, and ours) into the tables the encoder (tokenizer.ts) runs on. Every field used is validated, and
// components ownlm does not implement are refused, naming the file and the field, rather than encoded
// differently.
import { DataError } from '../data/errors.ts';
import { quoteValue } from '../formats/errors.ts';
import { BYTE_TO_CHAR } from './byte-level.ts';
import {
  compilePattern,
  GPT2_PATTERN,
  LLAMA3_PATTERN,
  QWEN2_CPP_PATTERN,
  QWEN2_PATTERN,
  type SplitBehavior,
} from './pretokenize.ts';

export interface AddedToken {
  id: number;
  content: string;
  special: boolean;
  lstrip: boolean;
  rstrip: boolean;
  singleWord: boolean;
}

export /** One pre-tokenizer step applied to every current piece. */
type PreTokenizerStep = { kind: 'split'; regex: RegExp; behavior: SplitBehavior } | { kind: 'prefix-space' };

export type Normalization = 'NFC' | 'NFD' | 'NFKC' | 'NFKD';

const MAX_TOKEN_ID = (1 << 21) - 1;
/**
 * Bounds on the added tokens, which the encoder matches with one regular expression of them all. Its compile
 * time grows with the square of their number (8,000 took 0.7 s, 32,767 took 20 s), and V8 refuses one token of
 * 50,000 characters as too large. Real files have at most a few thousand, each a few dozen characters long.
 */
const MAX_ADDED_TOKENS = 5_000;
const MAX_ADDED_TOKEN_CHARACTERS = 1_000;
const MAX_ADDED_CHARACTERS = 100_000;
/**
 * Components (normalizer, pre-tokenizer, post-processor, decoder) nest two or three levels and hold a few dozen
 * values in real files; larger ones are refused before the recursive readers below walk them, so a file cannot
 * overflow the stack or make thousands of regular expressions.
 */
const MAX_NESTING = 32;
const MAX_COMPONENT_VALUES = 1_000;
/**
 * The pre-tokenizer's regular expressions, translated, in characters (one for Qwen 2 or Llama 3 is about 480).
 * V8 compiles a regex on its first match, in time that grows with its length: 47,000 characters took 2 s.
 */
const MAX_PATTERN_CHARACTERS = 8_000;
/** Merge ranks are keyed by `left * PAIR_SHIFT + right` (ids stay below 2^21). */
export const PAIR_SHIFT = 1 << 21;

/** A tokenizer.json as the encoder uses it. */
export interface TokenizerModel {
  /** The model vocabulary: token (byte-level characters) → id. */
  vocab: Map<string, number>;
  /** Each id's text: byte-level characters for the vocabulary, the written text for added tokens. */
  idToTokenText: (string | undefined)[];
  /** The id of each single byte, -1 where the vocabulary lacks it. */
  byteIds: Int32Array;
  /** The rank of each mergeable pair, keyed by `left * PAIR_SHIFT + right`. */
  ranks: Map<number, number>;
  /** The token each merge rank makes. */
  mergedIds: Int32Array;
  /** A piece that is in the vocabulary whole is emitted whole. */
  ignoreMerges: boolean;
  unkId: number | null;
  addedTokens: AddedToken[];
  /** Rows an embedding needs: the highest id in the vocabulary or the added tokens, plus one. */
  vocabSize: number;
  normalization: Normalization | null;
  steps: PreTokenizerStep[];
  /** Ids the post-processor puts before and after a single sequence. */
  prefixIds: number[];
  suffixIds: number[];
  /** The `tokenizer.ggml.pre` value whose regex and flags reproduce this tokenizer in llama.cpp, if any. */
  llamaCppPre: string | null;
}

/** Validates tokenizer.json text; `source` (a path) is named in every error. */
export function readTokenizerJson(text: string, source: string): TokenizerModel {
  const where = (field: string) => `${source}: ${field}`;
  const json = parseJson(text, source);
  const root = object(json, where('the top level'));
  const model = object(root.model, where('model'));
  if (model.type !== 'BPE')
    throw unsupported(where(`model.type ${quoteValue(model.type)} (only BPE is supported)`));
  if (model.byte_fallback === true)
    throw unsupported(where('model.byte_fallback true (SentencePiece-style BPE)'));
  if (model.dropout != null && model.dropout !== 0) throw unsupported(where('model.dropout'));
  for (const field of ['continuing_subword_prefix', 'end_of_word_suffix'] as const) {
    if (model[field] != null && model[field] !== '') throw unsupported(where(`model.${field}`));
  }
  const ignoreMerges = model.ignore_merges === true;

  const vocab = new Map<string, number>();
  const idToTokenText: (string | undefined)[] = [];
  let maxId = -1;
  for (const [token, id] of Object.entries(object(model.vocab, where('model.vocab')))) {
    checkId(id, where(`model.vocab[${JSON.stringify(token)}]`));
    if (idToTokenText[id] !== undefined) throw invalid(where(`model.vocab: id ${id} is used twice`));
    vocab.set(token, id);
    idToTokenText[id] = token;
    maxId = Math.max(maxId, id);
  }

  const merges = array(model.merges ?? [], where('model.merges'));
  const ranks = new Map<number, number>();
  const mergedIds = new Int32Array(merges.length);
  merges.forEach((merge, rank) => {
    const field = where(`model.merges[${rank}]`);
    let left: unknown;
    let right: unknown;
    if (typeof merge === 'string') {
      const space = merge.indexOf(' ', 1);
      if (space < 0) throw invalid(`${field} must be "left right"`);
      [left, right] = [merge.slice(0, space), merge.slice(space + 1)];
    } else if (Array.isArray(merge) && merge.length === 2) [left, right] = merge;
    if (typeof left !== 'string' || typeof right !== 'string')
      throw invalid(`${field} must be "left right" or [left, right]`);
    const a = vocab.get(left);
    const b = vocab.get(right);
    const merged = vocab.get(`${left}${right}`);
    if (a === undefined || b === undefined || merged === undefined) {
      throw invalid(
        `${field} ${quoteValue(`${left} ${right}`)} uses or makes a token that is not in model.vocab`,
      );
    }
    // Repeated merges keep their first (lowest) rank, as in tokenizers.
    if (!ranks.has(a * PAIR_SHIFT + b)) ranks.set(a * PAIR_SHIFT + b, rank);
    mergedIds[rank] = merged;
  });

  const unkId = typeof model.unk_token === 'string' ? (vocab.get(model.unk_token) ?? null) : null;
  const byteIds = new Int32Array(256);
  for (let b = 0; b < 256; b++) byteIds[b] = vocab.get(BYTE_TO_CHAR[b]) ?? -1;

  const addedEntries = array(root.added_tokens ?? [], where('added_tokens'));
  if (addedEntries.length > MAX_ADDED_TOKENS)
    throw unsupported(where(`added_tokens: ${addedEntries.length} entries (more than ${MAX_ADDED_TOKENS})`));
  let addedCharacters = 0;
  const addedTokens = addedEntries.map((entry, i) => {
    const field = where(`added_tokens[${i}]`);
    const t = object(entry, field);
    checkId(t.id, `${field}.id`);
    if (typeof t.content !== 'string' || t.content === '')
      throw invalid(`${field}.content must be a non-empty string`);
    if (t.content.length > MAX_ADDED_TOKEN_CHARACTERS)
      throw unsupported(
        `${field}.content of ${t.content.length} characters (more than ${MAX_ADDED_TOKEN_CHARACTERS})`,
      );
    addedCharacters += t.content.length;
    if (addedCharacters > MAX_ADDED_CHARACTERS)
      throw unsupported(`${field}: added tokens of more than ${MAX_ADDED_CHARACTERS} characters in all`);
    const token: AddedToken = {
      id: t.id,
      content: t.content,
      special: t.special === true,
      lstrip: t.lstrip === true,
      rstrip: t.rstrip === true,
      singleWord: t.single_word === true,
    };
    const existing = idToTokenText[token.id];
    if (existing !== undefined && existing !== token.content) {
      throw invalid(`${field}: id ${token.id} is already model.vocab's ${quoteValue(existing)}`);
    }
    idToTokenText[token.id] = token.content;
    maxId = Math.max(maxId, token.id);
    return token;
  });

  for (const component of ['normalizer', 'pre_tokenizer', 'post_processor', 'decoder'])
    checkComponentSize(root[component], where(component));
  const normalization = normalizer(root.normalizer, where('normalizer'));
  const steps = preTokenizerSteps(root.pre_tokenizer, where('pre_tokenizer'));
  const patternCharacters = steps.reduce(
    (n, step) => n + (step.kind === 'split' ? step.regex.source.length : 0),
    0,
  );
  if (patternCharacters > MAX_PATTERN_CHARACTERS)
    throw unsupported(
      where(
        `pre_tokenizer: regular expressions of ${patternCharacters} characters (more than ${MAX_PATTERN_CHARACTERS})`,
      ),
    );
  if (!hasByteLevel(root.pre_tokenizer))
    throw unsupported(where('pre_tokenizer without ByteLevel (not a byte-level BPE)'));
  decoderCheck(root.decoder, where('decoder'));
  const [prefixIds, suffixIds] = postProcessorIds(root.post_processor, where('post_processor'), (id) => {
    if (idToTokenText[id] === undefined)
      throw invalid(`${source}: post_processor: token id ${id} is not in the vocabulary`);
    return id;
  });

  return {
    vocab,
    idToTokenText,
    byteIds,
    ranks,
    mergedIds,
    ignoreMerges,
    unkId,
    addedTokens,
    vocabSize: maxId + 1,
    normalization,
    steps,
    prefixIds,
    suffixIds,
    llamaCppPre: llamaCppPre(root, ignoreMerges),
  };
}

/** A JSON object from `text`; `source` is named in the error. */
export function parseJsonObject(text: string, source: string): Record<string, unknown> {
  return object(parseJson(text, source), source);
}

export function escapeRegex(text: string): string {
  return text.replace(/[\\^$.*+?()[\]{}|/]/g, '\\$&');
}

function normalizer(value: unknown, where: string): 'NFC' | 'NFD' | 'NFKC' | 'NFKD' | null {
  if (value === null || value === undefined) return null;
  const n = object(value, where);
  if (n.type === 'Sequence') {
    const parts = array(n.normalizers, `${where}.normalizers`).map((part, i) =>
      normalizer(part, `${where}.normalizers[${i}]`),
    );
    const used = parts.filter((p) => p !== null);
    if (used.length > 1) throw unsupported(`${where}: more than one Unicode normalization`);
    return used[0] ?? null;
  }
  if (n.type === 'NFC' || n.type === 'NFD' || n.type === 'NFKC' || n.type === 'NFKD') return n.type;
  throw unsupported(`${where}.type ${quoteValue(n.type)}`);
}

function preTokenizerSteps(value: unknown, where: string): PreTokenizerStep[] {
  if (value === null || value === undefined) return [];
  const p = object(value, where);
  switch (p.type) {
    case 'Sequence':
      return array(p.pretokenizers, `${where}.pretokenizers`).flatMap((part, i) =>
        preTokenizerSteps(part, `${where}.pretokenizers[${i}]`),
      );
    case 'ByteLevel': {
      const steps: PreTokenizerStep[] = [];
      if (p.add_prefix_space === true) steps.push({ kind: 'prefix-space' });
      if (p.use_regex !== false)
        steps.push({ kind: 'split', regex: compilePattern(GPT2_PATTERN, where), behavior: 'Isolated' });
      return steps;
    }
    case 'Split': {
      const pattern = object(p.pattern, `${where}.pattern`);
      const behavior = p.behavior;
      if (behavior !== 'Isolated' && behavior !== 'Removed')
        throw unsupported(`${where}.behavior ${quoteValue(behavior)}`);
      if (p.invert === true) throw unsupported(`${where}.invert true`);
      let regex: RegExp;
      if (typeof pattern.Regex === 'string') regex = compilePattern(pattern.Regex, `${where}.pattern.Regex`);
      else if (typeof pattern.String === 'string') regex = new RegExp(escapeRegex(pattern.String), 'gu');
      else throw invalid(`${where}.pattern must hold Regex or String`);
      return [{ kind: 'split', regex, behavior }];
    }
    default:
      throw unsupported(`${where}.type ${quoteValue(p.type)}`);
  }
}

function hasByteLevel(value: unknown): boolean {
  if (value === null || typeof value !== 'object') return false;
  const p = value as Record<string, unknown>;
  return (
    p.type === 'ByteLevel' ||
    (p.type === 'Sequence' && Array.isArray(p.pretokenizers) && p.pretokenizers.some(hasByteLevel))
  );
}

function decoderCheck(value: unknown, where: string): void {
  if (value === null || value === undefined) return;
  const d = object(value, where);
  if (d.type === 'Sequence') {
    array(d.decoders, `${where}.decoders`).forEach((part, i) =>
      decoderCheck(part, `${where}.decoders[${i}]`),
    );
  } else if (d.type !== 'ByteLevel') throw unsupported(`${where}.type ${quoteValue(d.type)}`);
}

/** Ids the post-processor puts before and after a single sequence. */
function postProcessorIds(
  value: unknown,
  where: string,
  known: (id: number) => number,
): [number[], number[]] {
  if (value === null || value === undefined) return [[], []];
  const p = object(value, where);
  if (p.type === 'ByteLevel') return [[], []];
  if (p.type === 'Sequence') {
    const parts = array(p.processors, `${where}.processors`).map((part, i) =>
      postProcessorIds(part, `${where}.processors[${i}]`, known),
    );
    return [parts.flatMap((x) => x[0]), parts.flatMap((x) => x[1])];
  }
  if (p.type !== 'TemplateProcessing') throw unsupported(`${where}.type ${quoteValue(p.type)}`);
  const specialTokens = object(p.special_tokens ?? {}, `${where}.special_tokens`);
  const before: number[] = [];
  const after: number[] = [];
  let seenSequence = false;
  array(p.single, `${where}.single`).forEach((piece, i) => {
    const entry = object(piece, `${where}.single[${i}]`);
    if ('Sequence' in entry) {
      seenSequence = true;
      return;
    }
    const special = object(entry.SpecialToken, `${where}.single[${i}].SpecialToken`);
    if (typeof special.id !== 'string')
      throw invalid(`${where}.single[${i}].SpecialToken.id must be a string`);
    const field = `${where}.special_tokens[${quoteValue(special.id)}]`;
    const spec = object(
      Object.hasOwn(specialTokens, special.id) ? specialTokens[special.id] : undefined,
      field,
    );
    for (const id of array(spec.ids, `${field}.ids`)) {
      checkId(id, `${field}.ids`);
      (seenSequence ? after : before).push(known(id));
    }
  });
  return [before, after];
}

/** The llama.cpp pre-tokenizer with this tokenizer's regex and flags (docs/FORMATS.md#tokenizer-metadata). */
function llamaCppPre(root: Record<string, unknown>, ignoreMerges: boolean): string | null {
  const pre = root.pre_tokenizer as Record<string, unknown> | null;
  if (pre?.type === 'ByteLevel' && pre.use_regex !== false && pre.add_prefix_space !== true)
    return ignoreMerges ? null : 'gpt-2';
  if (pre?.type !== 'Sequence' || !Array.isArray(pre.pretokenizers) || pre.pretokenizers.length !== 2)
    return null;
  const [split, byteLevel] = pre.pretokenizers as Record<string, unknown>[];
  if (byteLevel?.type !== 'ByteLevel' || byteLevel.use_regex !== false || byteLevel.add_prefix_space === true)
    return null;
  if (split?.type !== 'Split' || split.behavior !== 'Isolated' || split.invert === true) return null;
  const regex = (split.pattern as Record<string, unknown> | undefined)?.Regex;
  // llama.cpp's llama3 family also sets ignore_merges; dbrx/smaug-bpe use the same regex without it.
  if (regex === LLAMA3_PATTERN) return ignoreMerges ? 'llama-bpe' : 'smaug-bpe';
  // llama.cpp's qwen2 spells the contractions out; both spellings split alike but for "'ſ" (pretokenize.ts).
  if ((regex === QWEN2_PATTERN || regex === QWEN2_CPP_PATTERN) && !ignoreMerges) return 'qwen2';
  return null;
}

function parseJson(text: string, source: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw invalid(`${source}: not valid JSON (${(error as Error).message})`);
  }
}

function object(value: unknown, where: string): Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value))
    throw invalid(`${where} must be an object`);
  return value as Record<string, unknown>;
}

function array(value: unknown, where: string): unknown[] {
  if (!Array.isArray(value)) throw invalid(`${where} must be an array`);
  return value;
}

function checkId(value: unknown, where: string): asserts value is number {
  if (!Number.isInteger(value) || (value as number) < 0 || (value as number) > MAX_TOKEN_ID) {
    throw invalid(`${where} must be a token id between 0 and ${MAX_TOKEN_ID} (got ${quoteValue(value)})`);
  }
}

function checkComponentSize(value: unknown, where: string): void {
  const stack: [unknown, number][] = [[value, 0]];
  for (let values = 0; stack.length > 0; values++) {
    const [node, depth] = stack.pop()!;
    if (values > MAX_COMPONENT_VALUES)
      throw unsupported(`${where} of more than ${MAX_COMPONENT_VALUES} values`);
    if (node === null || typeof node !== 'object') continue;
    if (depth > MAX_NESTING) throw unsupported(`${where} nested more than ${MAX_NESTING} levels deep`);
    for (const child of Object.values(node)) stack.push([child, depth + 1]);
  }
}

function invalid(message: string): DataError {
  return new DataError('input-invalid', message);
}

function unsupported(what: string): DataError {
  return new DataError(
    'input-unsupported',
    `${what} is not supported; ownlm loads byte-level BPE tokenizers (GPT-2, Llama 3, Qwen 2 styles)`,
  );
}
