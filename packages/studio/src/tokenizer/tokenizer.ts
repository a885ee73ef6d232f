// Encodes and decodes with the same ids as the Hugging Face libraries, from a tokenizer.json that
// tokenizer-json.ts has read and validated, and renders chat templates from tokenizer_config.json.
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
import { splitPieces } from './pretokenize.ts';
import {
  escapeRegex,
  PAIR_SHIFT,
  parseJsonObject,
  readTokenizerJson,
  type AddedToken,
  type Normalization,
  type PreTokenizerStep,
} from './tokenizer-json.ts';

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

  private readonly vocab: Map<string, number>;
  private readonly idToTokenText: (string | undefined)[];
  private readonly idBytes: (Uint8Array | undefined)[] = [];
  private readonly byteIds: Int32Array;
  private readonly ranks: Map<number, number>;
  private readonly mergedIds: Int32Array;
  private readonly ignoreMerges: boolean;
  private readonly unkId: number | null;
  private readonly normalization: Normalization | null;
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
    const model = readTokenizerJson(new TextDecoder().decode(tokenizerJson), source);
    this.vocab = model.vocab;
    this.idToTokenText = model.idToTokenText;
    this.byteIds = model.byteIds;
    this.ranks = model.ranks;
    this.mergedIds = model.mergedIds;
    this.ignoreMerges = model.ignoreMerges;
    this.unkId = model.unkId;
    this.addedTokens = model.addedTokens;
    for (const token of this.addedTokens) {
      this.addedById.set(token.id, token);
      this.addedByContent.set(token.content, token);
    }
    this.vocabSize = model.vocabSize;
    this.allAddedRegex = addedTokenRegex(this.addedTokens, () => true);
    this.nonSpecialAddedRegex = addedTokenRegex(this.addedTokens, (t) => !t.special);
    this.normalization = model.normalization;
    this.steps = model.steps;
    this.prefixIds = model.prefixIds;
    this.suffixIds = model.suffixIds;
    this.llamaCppPre = model.llamaCppPre;

    this.config = config;
    this.chatTemplate =
      chatTemplate ?? (typeof config.chat_template === 'string' ? config.chat_template : null);
    const tokenId = (key: string): number | null => {
      const text = specialText(config[key]);
      return text === null ? null : (this.tokenToId(text) ?? null);
    };
    this.bosId = tokenId('bos_token') ?? (this.prefixIds.length > 0 ? this.prefixIds[0] : null);
    this.eosId = tokenId('eos_token') ?? this.tokenToId('<|endoftext|>') ?? null;
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
      ? parseJsonObject(readFileSync(configFile, 'utf8'), configFile)
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
