// The Hugging Face tokenizer files of a GGUF's byte-level BPE vocabulary (`tokenizer.ggml.model` = gpt2),
// the inverse of tokenizerMetadata in gguf-llama.ts: tokens and merges as they are, CONTROL tokens as special
// added tokens, USER_DEFINED ones as plain added tokens, padding entries dropped, and the pre-tokenizer that
// llama.cpp's `tokenizer.ggml.pre` value stands for. Pre-tokenizers ownlm cannot reproduce are refused.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { LLAMA3_PATTERN, QWEN2_CPP_PATTERN } from '../tokenizer/pretokenize.ts';
import { FormatError, quoteValue } from './errors.ts';
import type { GgufHeader } from './gguf.ts';
import { scalar, stringArray, TokenType } from './gguf-llama.ts';
import { sortedJson } from './hf-folder.ts';

const byteLevel = (useRegex: boolean) => ({
  type: 'ByteLevel',
  add_prefix_space: false,
  trim_offsets: true,
  use_regex: useRegex,
});
const split = (regex: string) => ({
  type: 'Sequence',
  pretokenizers: [
    { type: 'Split', pattern: { Regex: regex }, behavior: 'Isolated', invert: false },
    byteLevel(false),
  ],
});

/** `tokenizer.ggml.pre` → the tokenizer.json pre-tokenizer and ignore_merges flag that reproduce it. */
const PRE_TOKENIZERS: Record<string, { preTokenizer: object; ignoreMerges: boolean }> = {
  qwen2: { preTokenizer: split(QWEN2_CPP_PATTERN), ignoreMerges: false },
  'llama-bpe': { preTokenizer: split(LLAMA3_PATTERN), ignoreMerges: true },
  llama3: { preTokenizer: split(LLAMA3_PATTERN), ignoreMerges: true },
  'llama-v3': { preTokenizer: split(LLAMA3_PATTERN), ignoreMerges: true },
  'smaug-bpe': { preTokenizer: split(LLAMA3_PATTERN), ignoreMerges: false },
  dbrx: { preTokenizer: split(LLAMA3_PATTERN), ignoreMerges: false },
  'gpt-2': { preTokenizer: byteLevel(true), ignoreMerges: false },
};

/** Writes tokenizer.json, tokenizer_config.json and (with a template) chat_template.jinja into `dir`. */
export function writeGgufTokenizerFiles(header: GgufHeader, dir: string): void {
  const fail = (key: string, detail: string, code: 'invalid' | 'unsupported' = 'invalid') =>
    new FormatError(code, header.file, `key "${key}"`, detail);
  const model = scalar(header, 'tokenizer.ggml.model');
  if (model !== 'gpt2')
    throw fail(
      'tokenizer.ggml.model',
      `${quoteValue(model)} (only gpt2, byte-level BPE, is supported)`,
      'unsupported',
    );
  const pre = scalar(header, 'tokenizer.ggml.pre') ?? 'default';
  const preTokenizer =
    typeof pre === 'string' && Object.hasOwn(PRE_TOKENIZERS, pre) ? PRE_TOKENIZERS[pre] : null;
  if (!preTokenizer)
    throw fail(
      'tokenizer.ggml.pre',
      `${quoteValue(pre)} is not a pre-tokenizer ownlm reproduces (${Object.keys(PRE_TOKENIZERS).join(', ')})`,
      'unsupported',
    );
  const tokens = stringArray(header, 'tokenizer.ggml.tokens');
  if (tokens === null) throw fail('tokenizer.ggml.tokens', 'is missing');
  const merges = stringArray(header, 'tokenizer.ggml.merges') ?? [];
  const typesValue = header.metadata.get('tokenizer.ggml.token_type');
  if (
    typesValue &&
    (typesValue.type !== 'array' ||
      typesValue.elementType !== 'i32' ||
      typesValue.value.length !== tokens.length)
  )
    throw fail('tokenizer.ggml.token_type', `must be an i32 array of ${tokens.length} entries`);
  const types = (typesValue?.value as number[] | undefined) ?? tokens.map(() => TokenType.NORMAL);
  const id = (key: string): number | null => {
    const v = scalar(header, key);
    if (v === undefined) return null;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v >= tokens.length)
      throw fail(key, `must be a token id below ${tokens.length}`);
    return v;
  };
  const bos = id('tokenizer.ggml.bos_token_id');
  const eos = id('tokenizer.ggml.eos_token_id');
  const pad = id('tokenizer.ggml.padding_token_id');
  const unk = id('tokenizer.ggml.unknown_token_id');
  const addBos = scalar(header, 'tokenizer.ggml.add_bos_token') === true;
  const addEos = scalar(header, 'tokenizer.ggml.add_eos_token') === true;

  const vocab: string[] = [];
  const added: { id: number; content: string; special: boolean }[] = [];
  tokens.forEach((token, i) => {
    if (types[i] === TokenType.CONTROL || types[i] === TokenType.USER_DEFINED)
      added.push({ id: i, content: token, special: types[i] === TokenType.CONTROL });
    else if (types[i] !== TokenType.UNUSED) vocab.push(`      ${JSON.stringify(token)}: ${i}`);
  });
  const text = (i: number | null) => (i === null ? null : tokens[i]);
  const bosTemplate =
    addBos && bos !== null
      ? {
          type: 'TemplateProcessing',
          single: [{ SpecialToken: { id: tokens[bos], type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }],
          pair: [
            { SpecialToken: { id: tokens[bos], type_id: 0 } },
            { Sequence: { id: 'A', type_id: 0 } },
            { SpecialToken: { id: tokens[bos], type_id: 1 } },
            { Sequence: { id: 'B', type_id: 1 } },
          ],
          special_tokens: { [tokens[bos]]: { id: tokens[bos], ids: [bos], tokens: [tokens[bos]] } },
        }
      : null;
  const postByteLevel = { type: 'ByteLevel', add_prefix_space: true, trim_offsets: false, use_regex: true };
  const head = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: added.map((t) => ({
      ...t,
      single_word: false,
      lstrip: false,
      rstrip: false,
      normalized: false,
      special: t.special,
    })),
    normalizer: null,
    pre_tokenizer: preTokenizer.preTokenizer,
    post_processor: bosTemplate
      ? { type: 'Sequence', processors: [postByteLevel, bosTemplate] }
      : postByteLevel,
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
  };
  const modelHead = {
    type: 'BPE',
    dropout: null,
    unk_token: text(unk),
    continuing_subword_prefix: null,
    end_of_word_suffix: null,
    fuse_unk: false,
    byte_fallback: false,
    ignore_merges: preTokenizer.ignoreMerges,
  };
  // The vocabulary is written by hand in id order: JSON.stringify would move integer-like tokens ("0") first.
  const modelFields = Object.entries(modelHead).map(
    ([k, v]) => `    ${JSON.stringify(k)}: ${JSON.stringify(v)}`,
  );
  const mergeLines = merges.map((m) => `      ${JSON.stringify(m)}`);
  const json = `${JSON.stringify(head, null, 2).slice(0, -2)},\n  "model": {\n${modelFields.join(',\n')},\n    "vocab": {\n${vocab.join(',\n')}\n    },\n    "merges": [\n${mergeLines.join(',\n')}\n    ]\n  }\n}\n`;
  writeFileSync(join(dir, 'tokenizer.json'), json);

  const template = scalar(header, 'tokenizer.chat_template');
  const config: Record<string, unknown> = {
    add_bos_token: addBos,
    add_eos_token: addEos,
    added_tokens_decoder: Object.fromEntries(
      added.map((t) => [
        String(t.id),
        {
          content: t.content,
          lstrip: false,
          normalized: false,
          rstrip: false,
          single_word: false,
          special: t.special,
        },
      ]),
    ),
    // Our own exports carry bos = eos only so llama.cpp never falls back to id 11; that is no BOS token.
    bos_token: addBos || bos !== eos ? text(bos) : null,
    clean_up_tokenization_spaces: false,
    eos_token: text(eos),
    pad_token: text(pad),
    tokenizer_class: 'PreTrainedTokenizerFast',
    unk_token: text(unk),
  };
  if (typeof template === 'string') {
    config.chat_template = template;
    writeFileSync(join(dir, 'chat_template.jinja'), template);
  }
  writeFileSync(join(dir, 'tokenizer_config.json'), sortedJson(config));
}
