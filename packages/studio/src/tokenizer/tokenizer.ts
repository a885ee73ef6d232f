// Loads any Hugging Face byte-level BPE tokenizer.json (GPT-2, Llama 3, Qwen 2 styles, and ours) and encodes
// and decodes with the same ids as the Hugging Face libraries. Loading validates every field it uses and
// refuses components it does not implement, naming the file and the field, rather than encode differently.
//
// Pipeline (tokenizers' order): split out added tokens → normalize → pre-tokenize (regex splits, optional
// prefix space) → UTF-8 bytes → byte-level BPE (lowest merge rank first, leftmost on ties; with
// `ignore_merges`, a piece that is itself in the vocabulary is emitted whole) → post-processor template.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Template } from '@huggingface/jinja';
import type { TokenIds } from '@ownlm/engine';
import { DataError } from '../data/errors.ts';
import { BYTE_TO_CHAR, charsToBytes } from './byte-level.ts';
import {
  compilePattern,
  GPT2_PATTERN,
  LLAMA3_PATTERN,
  QWEN2_CPP_PATTERN,
  QWEN2_PATTERN,
  splitPieces,
  type SplitBehavior,
} from './pretokenize.ts';

export interface EncodeOptions {
  /** Add the post-processor's tokens (a BOS for Llama 3; nothing for ours). Default true, as in tokenizers. */
  addSpecialTokens?: boolean;
  /**
   * Recognize special tokens written in the text (default true, as in tokenizers and chat rendering).
   * Set false for untrusted or raw corpus text, so a literal "<|im_end|>" is encoded as ordinary bytes.
   * Added tokens that are not special are always recognized, as in llama.cpp.
   */
  parseSpecial?: boolean;
}

export interface DecodeOptions {
  skipSpecialTokens?: boolean;
}

/** One chat message; extra fields (name, tool_calls…) are passed to the template unchanged. */
export interface ChatMessage {
  role: string;
  content: string;
  [field: string]: unknown;
}

export interface ChatTemplateOptions {
  /** Append the assistant header so the model writes the next turn (inference); false for training. */
  addGenerationPrompt?: boolean;
  /** Further template variables (tools, documents, enable_thinking…). */
  variables?: Record<string, unknown>;
}

interface AddedToken {
  id: number;
  content: string;
  special: boolean;
  lstrip: boolean;
  rstrip: boolean;
  singleWord: boolean;
}

/** One pre-tokenizer step applied to every current piece. */
type PreTokenizerStep = { kind: 'split'; regex: RegExp; behavior: SplitBehavior } | { kind: 'prefix-space' };

const MAX_TOKEN_ID = (1 << 21) - 1;
const PAIR_SHIFT = 1 << 21;
const CACHE_LIMIT = 1 << 17;
const LONG_WORD = 48;
const WHITE_SPACE = String.raw`\t\n\v\f\r \x85\xA0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000`;

const utf8 = new TextEncoder();
// A leading U+FEFF is text here, not a byte order mark to drop; invalid UTF-8 becomes U+FFFD as in tokenizers.
const utf8Decoder = new TextDecoder('utf-8', { ignoreBOM: true });

export class Tokenizer {
  /** sha256 of tokenizer.json as stored: identifies the tokenizer in shard indexes and checkpoints. */
  readonly hash: string;
  /** Rows an embedding needs: the highest id in the vocabulary or the added tokens, plus one. */
  readonly vocabSize: number;
  readonly bosId: number | null;
  /** End of sequence; also the document separator when packing. */
  readonly eosId: number | null;
  /** The `tokenizer.ggml.pre` value whose regex and flags reproduce this tokenizer in llama.cpp, if any. */
  readonly llamaCppPre: string | null;
  /** tokenizer_config.json as read ({} when there is none). */
  readonly config: Readonly<Record<string, unknown>>;
  readonly chatTemplate: string | null;

  private readonly vocab = new Map<string, number>();
  private readonly idToTokenText: (string | undefined)[] = [];
  private readonly idBytes: (Uint8Array | undefined)[] = [];
  private readonly byteIds = new Int32Array(256);
  private readonly ranks = new Map<number, number>();
  private readonly mergedIds: Int32Array;
  private readonly ignoreMerges: boolean;
  private readonly unkId: number | null;
  private readonly normalization: 'NFC' | 'NFD' | 'NFKC' | 'NFKD' | null;
  private readonly steps: PreTokenizerStep[];
  private readonly addedTokens: AddedToken[];
  private readonly addedById = new Map<number, AddedToken>();
  private readonly addedByContent = new Map<string, AddedToken>();
  private readonly allAddedRegex: RegExp | null;
  private readonly nonSpecialAddedRegex: RegExp | null;
  private readonly prefixIds: number[];
  private readonly suffixIds: number[];
  private readonly cache = new Map<string, Int32Array>();
  private compiledTemplate: Template | null = null;
  private out = new Int32Array(1024);
  private outLength = 0;

  private constructor(
    tokenizerJson: Uint8Array,
    config: Record<string, unknown>,
    chatTemplate: string | null,
    source: string,
  ) {
    this.hash = createHash('sha256').update(tokenizerJson).digest('hex');
    const where = (field: string) => `${source}: ${field}`;
    const json = parseJson(new TextDecoder().decode(tokenizerJson), source);
    const root = object(json, where('the top level'));
    const model = object(root.model, where('model'));
    if (model.type !== 'BPE')
      throw unsupported(where(`model.type ${JSON.stringify(model.type)} (only BPE is supported)`));
    if (model.byte_fallback === true)
      throw unsupported(where('model.byte_fallback true (SentencePiece-style BPE)'));
    if (model.dropout != null && model.dropout !== 0) throw unsupported(where('model.dropout'));
    for (const field of ['continuing_subword_prefix', 'end_of_word_suffix'] as const) {
      if (model[field] != null && model[field] !== '') throw unsupported(where(`model.${field}`));
    }
    this.ignoreMerges = model.ignore_merges === true;

    let maxId = -1;
    for (const [token, id] of Object.entries(object(model.vocab, where('model.vocab')))) {
      checkId(id, where(`model.vocab[${JSON.stringify(token)}]`));
      if (this.idToTokenText[id] !== undefined) throw invalid(where(`model.vocab: id ${id} is used twice`));
      this.vocab.set(token, id);
      this.idToTokenText[id] = token;
      maxId = Math.max(maxId, id);
    }

    const merges = array(model.merges ?? [], where('model.merges'));
    this.mergedIds = new Int32Array(merges.length);
    merges.forEach((merge, rank) => {
      const field = where(`model.merges[${rank}]`);
      let left: unknown;
      let right: unknown;
      if (typeof merge === 'string') {
        const space = merge.indexOf(' ', 1);
        if (space < 0) throw invalid(`${field} must be "left right"`);
        [left, right] = [merge.slice(0, space), merge.slice(space + 1)];
      } else if (Array.isArray(merge) && merge.length === 2) [left, right] = merge;
      else throw invalid(`${field} must be "left right" or [left, right]`);
      const a = this.vocab.get(left as string);
      const b = this.vocab.get(right as string);
      const merged = this.vocab.get(`${left}${right}`);
      if (a === undefined || b === undefined || merged === undefined) {
        throw invalid(`${field} ${JSON.stringify(merge)} uses or makes a token that is not in model.vocab`);
      }
      // Repeated merges keep their first (lowest) rank, as in tokenizers.
      if (!this.ranks.has(a * PAIR_SHIFT + b)) this.ranks.set(a * PAIR_SHIFT + b, rank);
      this.mergedIds[rank] = merged;
    });

    this.unkId = typeof model.unk_token === 'string' ? (this.vocab.get(model.unk_token) ?? null) : null;
    for (let b = 0; b < 256; b++) this.byteIds[b] = this.vocab.get(BYTE_TO_CHAR[b]) ?? -1;

    this.addedTokens = array(root.added_tokens ?? [], where('added_tokens')).map((entry, i) => {
      const field = where(`added_tokens[${i}]`);
      const t = object(entry, field);
      checkId(t.id, `${field}.id`);
      if (typeof t.content !== 'string' || t.content === '')
        throw invalid(`${field}.content must be a non-empty string`);
      const token: AddedToken = {
        id: t.id,
        content: t.content,
        special: t.special === true,
        lstrip: t.lstrip === true,
        rstrip: t.rstrip === true,
        singleWord: t.single_word === true,
      };
      const existing = this.idToTokenText[token.id];
      if (existing !== undefined && existing !== token.content) {
        throw invalid(`${field}: id ${token.id} is already model.vocab's ${JSON.stringify(existing)}`);
      }
      this.idToTokenText[token.id] = token.content;
      this.addedById.set(token.id, token);
      this.addedByContent.set(token.content, token);
      maxId = Math.max(maxId, token.id);
      return token;
    });
    this.vocabSize = maxId + 1;
    this.allAddedRegex = addedTokenRegex(this.addedTokens, () => true);
    this.nonSpecialAddedRegex = addedTokenRegex(this.addedTokens, (t) => !t.special);

    this.normalization = normalizer(root.normalizer, where('normalizer'));
    this.steps = preTokenizerSteps(root.pre_tokenizer, where('pre_tokenizer'));
    if (!hasByteLevel(root.pre_tokenizer))
      throw unsupported(where('pre_tokenizer without ByteLevel (not a byte-level BPE)'));
    decoderCheck(root.decoder, where('decoder'));
    [this.prefixIds, this.suffixIds] = postProcessorIds(root.post_processor, where('post_processor'), (id) =>
      this.checkKnown(id),
    );

    this.config = config;
    this.chatTemplate =
      chatTemplate ?? (typeof config.chat_template === 'string' ? config.chat_template : null);
    const tokenId = (key: string): number | null => {
      const text = specialText(config[key]);
      return text === null ? null : (this.tokenToId(text) ?? null);
    };
    this.bosId = tokenId('bos_token') ?? (this.prefixIds.length > 0 ? this.prefixIds[0] : null);
    this.eosId = tokenId('eos_token') ?? this.tokenToId('<|endoftext|>') ?? null;
    this.llamaCppPre = llamaCppPre(root, this.ignoreMerges);
  }

  /**
   * Loads a tokenizer from a folder holding tokenizer.json (with tokenizer_config.json and
   * chat_template.jinja when present) or from the path of a tokenizer.json.
   */
  static fromFile(path: string): Tokenizer {
    if (!existsSync(path))
      throw new DataError(
        'input-not-found',
        `${path}: no such file or folder; pass a tokenizer folder or its tokenizer.json`,
      );
    const dir = statSync(path).isDirectory() ? path : dirname(path);
    const file = statSync(path).isDirectory() ? join(path, 'tokenizer.json') : path;
    if (!existsSync(file))
      throw new DataError('input-not-found', `${file}: missing; train one with \`ownlm tokenizer train\``);
    const configFile = join(dir, 'tokenizer_config.json');
    const config = existsSync(configFile)
      ? object(parseJson(readFileSync(configFile, 'utf8'), configFile), configFile)
      : {};
    // transformers prefers a chat_template.jinja sidecar to the inline field (docs/FORMATS.md#tokenizer-config).
    const templateFile = join(dir, 'chat_template.jinja');
    const template = existsSync(templateFile) ? readFileSync(templateFile, 'utf8') : null;
    return new Tokenizer(readFileSync(file), config, template, file);
  }

  /** Builds a tokenizer from the bytes of a tokenizer.json and an optional parsed tokenizer_config.json. */
  static fromJson(
    tokenizerJson: Uint8Array | string,
    config: Record<string, unknown> = {},
    source = 'tokenizer.json',
  ): Tokenizer {
    const bytes = typeof tokenizerJson === 'string' ? utf8.encode(tokenizerJson) : tokenizerJson;
    return new Tokenizer(bytes, config, null, source);
  }

  tokenToId(token: string): number | undefined {
    return this.addedByContent.get(token)?.id ?? this.vocab.get(token);
  }

  /** The token's string as stored (byte-level characters for vocabulary tokens). */
  idToToken(id: number): string | undefined {
    return this.idToTokenText[id];
  }

  isSpecial(id: number): boolean {
    return this.addedById.get(id)?.special === true;
  }

  encode(text: string, options: EncodeOptions = {}): TokenIds {
    this.outLength = 0;
    if (options.addSpecialTokens ?? true) for (const id of this.prefixIds) this.push(id);
    const regex = (options.parseSpecial ?? true) ? this.allAddedRegex : this.nonSpecialAddedRegex;
    if (regex === null) this.encodeSegment(text);
    else {
      regex.lastIndex = 0;
      let last = 0;
      for (let m = regex.exec(text); m !== null; m = regex.exec(text)) {
        const token = this.addedAt(m);
        if (token === null) {
          regex.lastIndex = m.index + 1;
          continue;
        }
        if (m.index > last) this.encodeSegment(text.slice(last, m.index));
        this.push(token.id);
        last = m.index + m[0].length;
      }
      if (last < text.length) this.encodeSegment(text.slice(last));
    }
    if (options.addSpecialTokens ?? true) for (const id of this.suffixIds) this.push(id);
    return this.out.slice(0, this.outLength);
  }

  decode(ids: ArrayLike<number>, options: DecodeOptions = {}): string {
    const parts: Uint8Array[] = [];
    let length = 0;
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i];
      if (options.skipSpecialTokens && this.isSpecial(id)) continue;
      const bytes = this.tokenBytes(id);
      parts.push(bytes);
      length += bytes.length;
    }
    const all = new Uint8Array(length);
    let offset = 0;
    for (const part of parts) {
      all.set(part, offset);
      offset += part.length;
    }
    return utf8Decoder.decode(all);
  }

  /** The bytes a token stands for (an added token: the UTF-8 of its text). */
  tokenBytes(id: number): Uint8Array {
    let bytes = this.idBytes[id];
    if (bytes === undefined) {
      const text = this.idToTokenText[id];
      if (text === undefined)
        throw new RangeError(`token id ${id} is not in the vocabulary (size ${this.vocabSize})`);
      bytes = this.addedById.has(id) ? utf8.encode(text) : charsToBytes(text);
      this.idBytes[id] = bytes;
    }
    return bytes;
  }

  /** Renders messages with the chat template from tokenizer_config.json (transformers' variables). */
  applyChatTemplate(messages: ChatMessage[], options: ChatTemplateOptions = {}): string {
    if (this.chatTemplate === null) {
      throw new DataError(
        'input-unsupported',
        'this tokenizer has no chat_template; add one to tokenizer_config.json',
      );
    }
    this.compiledTemplate ??= new Template(this.chatTemplate);
    const specials = Object.fromEntries(
      ['bos_token', 'eos_token', 'pad_token', 'unk_token'].map((key) => [
        key,
        specialText(this.config[key]) ?? '',
      ]),
    );
    return this.compiledTemplate.render({
      ...specials,
      ...options.variables,
      messages,
      add_generation_prompt: options.addGenerationPrompt ?? false,
    });
  }

  /**
   * Renders and encodes a conversation. Following transformers, the rendered text is encoded with special
   * tokens parsed and without post-processor tokens, since templates write their own BOS.
   */
  encodeChat(messages: ChatMessage[], options: ChatTemplateOptions = {}): TokenIds {
    return this.encode(this.applyChatTemplate(messages, options), {
      addSpecialTokens: false,
      parseSpecial: true,
    });
  }

  private checkKnown(id: number): number {
    if (this.idToTokenText[id] === undefined)
      throw new DataError('input-invalid', `post_processor: token id ${id} is not in the vocabulary`);
    return id;
  }

  /** The added token of a match, or null when its flags reject the position (single_word inside a word). */
  private addedAt(m: RegExpExecArray): AddedToken | null {
    const key = Object.keys(m.groups!).find((name) => m.groups![name] !== undefined)!;
    const token = this.addedTokens[Number(key.slice(1))];
    if (token.singleWord) {
      // The boundaries are the token's own, inside any whitespace lstrip/rstrip absorbed.
      const start = m.index + m[0].indexOf(token.content);
      const before = m.input[start - 1];
      const after = m.input[start + token.content.length];
      if ((before !== undefined && WORD_CHAR.test(before)) || (after !== undefined && WORD_CHAR.test(after)))
        return null;
    }
    return token;
  }

  private push(id: number): void {
    if (this.outLength === this.out.length) {
      const bigger = new Int32Array(this.out.length * 2);
      bigger.set(this.out);
      this.out = bigger;
    }
    this.out[this.outLength++] = id;
  }

  private pushAll(ids: Int32Array): void {
    if (this.outLength + ids.length > this.out.length) {
      const bigger = new Int32Array(Math.max(this.out.length * 2, this.outLength + ids.length));
      bigger.set(this.out);
      this.out = bigger;
    }
    this.out.set(ids, this.outLength);
    this.outLength += ids.length;
  }

  private encodeSegment(segment: string): void {
    const text = this.normalization === null ? segment : segment.normalize(this.normalization);
    const steps = this.steps;
    if (steps.length === 1 && steps[0].kind === 'split' && steps[0].behavior === 'Isolated') {
      // The common case (one regex): walk the matches without building a piece list.
      const regex = steps[0].regex;
      regex.lastIndex = 0;
      let last = 0;
      for (let m = regex.exec(text); m !== null; m = regex.exec(text)) {
        if (m.index > last) this.encodePiece(text.slice(last, m.index));
        if (m[0].length === 0) regex.lastIndex++;
        else this.encodePiece(m[0]);
        last = m.index + m[0].length;
      }
      if (last < text.length) this.encodePiece(text.slice(last));
      return;
    }
    let pieces = [text];
    for (const step of steps) {
      const next: string[] = [];
      for (const piece of pieces) {
        if (step.kind === 'prefix-space') next.push(piece.startsWith(' ') ? piece : ` ${piece}`);
        else splitPieces(piece, step.regex, step.behavior, next);
      }
      pieces = next;
    }
    for (const piece of pieces) if (piece.length > 0) this.encodePiece(piece);
  }

  private encodePiece(piece: string): void {
    let ids = this.cache.get(piece);
    if (ids === undefined) {
      ids = this.bpe(utf8.encode(piece));
      if (this.cache.size >= CACHE_LIMIT) this.cache.clear();
      this.cache.set(piece, ids);
    }
    if (ids.length === 1) this.push(ids[0]);
    else this.pushAll(ids);
  }

  private bpe(bytes: Uint8Array): Int32Array {
    if (this.ignoreMerges) {
      let chars = '';
      for (let i = 0; i < bytes.length; i++) chars += BYTE_TO_CHAR[bytes[i]];
      const whole = this.vocab.get(chars);
      if (whole !== undefined) return Int32Array.of(whole);
    }
    let symbols = new Int32Array(bytes.length);
    let n = 0;
    for (let i = 0; i < bytes.length; i++) {
      const id = this.byteIds[bytes[i]];
      // A byte missing from the vocabulary becomes the unknown token, or is dropped without one (tokenizers).
      if (id >= 0) symbols[n++] = id;
      else if (this.unkId !== null) symbols[n++] = this.unkId;
    }
    symbols = symbols.subarray(0, n);
    return n > LONG_WORD ? this.mergeLong(symbols) : this.mergeShort(symbols);
  }

  /** Quadratic merging for short words: find the lowest-ranked pair, leftmost on ties, merge, repeat. */
  private mergeShort(symbols: Int32Array): Int32Array {
    let n = symbols.length;
    while (n > 1) {
      let bestRank = Infinity;
      let best = -1;
      for (let i = 0; i < n - 1; i++) {
        const rank = this.ranks.get(symbols[i] * PAIR_SHIFT + symbols[i + 1]);
        if (rank !== undefined && rank < bestRank) {
          bestRank = rank;
          best = i;
        }
      }
      if (best < 0) break;
      symbols[best] = this.mergedIds[bestRank];
      symbols.copyWithin(best + 1, best + 2, n);
      n--;
    }
    return symbols.slice(0, n);
  }

  /** The same merge order with a linked list and a heap of (rank, position), for long pieces. */
  private mergeLong(symbols: Int32Array): Int32Array {
    const n = symbols.length;
    const next = new Int32Array(n);
    const prev = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      next[i] = i + 1 < n ? i + 1 : -1;
      prev[i] = i - 1;
    }
    const heap = new RankHeap();
    const consider = (i: number) => {
      const j = next[i];
      if (i < 0 || j < 0) return;
      const rank = this.ranks.get(symbols[i] * PAIR_SHIFT + symbols[j]);
      if (rank !== undefined) heap.push(rank, i, symbols[i], symbols[j]);
    };
    for (let i = 0; i < n - 1; i++) consider(i);
    while (heap.size > 0) {
      const [rank, i, left, right] = heap.pop();
      const j = next[i];
      if (symbols[i] !== left || j < 0 || symbols[j] !== right) continue;
      symbols[i] = this.mergedIds[rank];
      symbols[j] = -1;
      next[i] = next[j];
      if (next[j] >= 0) prev[next[j]] = i;
      consider(prev[i]);
      consider(i);
    }
    const out: number[] = [];
    for (let i = 0; i >= 0; i = next[i]) out.push(symbols[i]);
    return Int32Array.from(out);
  }
}

/** Min-heap of (rank, position) with the pair it was computed for, so stale entries can be recognized. */
class RankHeap {
  size = 0;
  private entries: [number, number, number, number][] = [];

  push(rank: number, position: number, left: number, right: number): void {
    const e = this.entries;
    let i = this.size++;
    e[i] = [rank, position, left, right];
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!less(e[i], e[parent])) break;
      [e[i], e[parent]] = [e[parent], e[i]];
      i = parent;
    }
  }

  pop(): [number, number, number, number] {
    const e = this.entries;
    const top = e[0];
    e[0] = e[--this.size];
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= this.size) break;
      const child = l + 1 < this.size && less(e[l + 1], e[l]) ? l + 1 : l;
      if (!less(e[child], e[i])) break;
      [e[i], e[child]] = [e[child], e[i]];
      i = child;
    }
    return top;
  }
}

function less(a: [number, number, number, number], b: [number, number, number, number]): boolean {
  return a[0] !== b[0] ? a[0] < b[0] : a[1] < b[1];
}

// tokenizers' single_word check treats letters, digits and underscore as word characters.
const WORD_CHAR = /[\p{L}\p{N}_]/u;

/**
 * One named group per added token (named by its index, so the match tells which token it was), longest
 * first, so the leftmost match is also the longest at that position, as in tokenizers' leftmost-longest search.
 */
function addedTokenRegex(tokens: AddedToken[], include: (token: AddedToken) => boolean): RegExp | null {
  const ws = `[${WHITE_SPACE}]*`;
  const order = tokens
    .map((_, i) => i)
    .filter((i) => include(tokens[i]))
    .sort((x, y) => tokens[y].content.length - tokens[x].content.length || x - y);
  if (order.length === 0) return null;
  const alternatives = order.map((i) => {
    const t = tokens[i];
    return `(?<t${i}>${t.lstrip ? ws : ''}${escapeRegex(t.content)}${t.rstrip ? ws : ''})`;
  });
  return new RegExp(alternatives.join('|'), 'gu');
}

function escapeRegex(text: string): string {
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
  throw unsupported(`${where}.type ${JSON.stringify(n.type)}`);
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
        throw unsupported(`${where}.behavior ${JSON.stringify(behavior)}`);
      if (p.invert === true) throw unsupported(`${where}.invert true`);
      let regex: RegExp;
      if (typeof pattern.Regex === 'string') regex = compilePattern(pattern.Regex, `${where}.pattern.Regex`);
      else if (typeof pattern.String === 'string') regex = new RegExp(escapeRegex(pattern.String), 'gu');
      else throw invalid(`${where}.pattern must hold Regex or String`);
      return [{ kind: 'split', regex, behavior }];
    }
    default:
      throw unsupported(`${where}.type ${JSON.stringify(p.type)}`);
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
  } else if (d.type !== 'ByteLevel') throw unsupported(`${where}.type ${JSON.stringify(d.type)}`);
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
  if (p.type !== 'TemplateProcessing') throw unsupported(`${where}.type ${JSON.stringify(p.type)}`);
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
    const spec = object(
      specialTokens[special.id as string],
      `${where}.special_tokens[${JSON.stringify(special.id)}]`,
    );
    const ids = array(spec.ids, `${where}.special_tokens[${JSON.stringify(special.id)}].ids`).map((id) => {
      checkId(id, `${where}.special_tokens[${JSON.stringify(special.id)}].ids`);
      return known(id);
    });
    (seenSequence ? after : before).push(...ids);
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

/** A special token's text from tokenizer_config.json: a string or an AddedToken dict. */
function specialText(value: unknown): string | null {
  if (typeof value === 'string') return value;
  if (
    value !== null &&
    typeof value === 'object' &&
    typeof (value as Record<string, unknown>).content === 'string'
  ) {
    return (value as Record<string, string>).content;
  }
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
    throw invalid(`${where} must be a token id between 0 and ${MAX_TOKEN_ID} (got ${JSON.stringify(value)})`);
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
