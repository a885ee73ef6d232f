// Hugging Face tokenizer files (docs/FORMATS.md#tokenizer-files): tokenizer.json in the key order and layout
// tokenizers writes, tokenizer_config.json, and the chat_template.jinja sidecar newer transformers read.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TrainedBpe } from './bpe-trainer.ts';
import { QWEN2_CPP_PATTERN } from './pretokenize.ts';

/**
 * ChatML (docs/FORMATS.md#chatml) as transformers documents it and llama.cpp's tests expect; written only
 * when the vocabulary has both markers.
 */
export const CHATML_TEMPLATE =
  "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

/** The special tokens a new tokenizer gets by default; the first is the end-of-text (document) token. */
export const DEFAULT_SPECIAL_TOKENS = ['<|endoftext|>', '<|im_start|>', '<|im_end|>'];

/** What a byte-level BPE tokenizer.json holds; everything else in the file is fixed. */
export interface ByteLevelBpe {
  /** The model vocabulary in id order, spelled in the byte-level alphabet. */
  tokens?: string[];
  /** Merges in rank order, as "left right". */
  merges?: string[];
  /** Tokens outside the model vocabulary (the special tokens) with their ids. */
  addedTokens?: { id: number; content: string }[];
  /** The pre-tokenizer's Split regex before the byte-level step; null: ByteLevel's own GPT-2 regex. */
  pattern: string | null;
  /** Qwen 2's ByteLevel post-processor (it adds no tokens); none when false. */
  postProcessor?: boolean;
  /** A piece that is in the vocabulary whole is emitted whole (tiktoken, Llama 3). */
  ignoreMerges?: boolean;
}

/**
 * tokenizer.json text in the key order and layout Hugging Face tokenizers writes, without a normalizer
 * (llama.cpp applies none). The one writer of tokenizer.json: trained tokenizers, the reference vocabularies and
 * the empty models the Hugging Face trainer starts from in tests and benchmarks.
 */
export function byteLevelBpeJson(bpe: ByteLevelBpe): string {
  const { tokens = [], merges = [], addedTokens = [], pattern, postProcessor = false } = bpe;
  const byteLevel = {
    type: 'ByteLevel',
    add_prefix_space: false,
    trim_offsets: true,
    use_regex: pattern === null,
  };
  const head = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: addedTokens.map(({ id, content }) => ({
      id,
      content,
      single_word: false,
      lstrip: false,
      rstrip: false,
      normalized: false,
      special: true,
    })),
    normalizer: null,
    pre_tokenizer:
      pattern === null
        ? byteLevel
        : {
            type: 'Sequence',
            pretokenizers: [
              { type: 'Split', pattern: { Regex: pattern }, behavior: 'Isolated', invert: false },
              byteLevel,
            ],
          },
    post_processor: postProcessor
      ? { type: 'ByteLevel', add_prefix_space: true, trim_offsets: false, use_regex: true }
      : null,
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
  };
  const model = {
    type: 'BPE',
    dropout: null,
    unk_token: null,
    continuing_subword_prefix: null,
    end_of_word_suffix: null,
    fuse_unk: false,
    byte_fallback: false,
    ignore_merges: bpe.ignoreMerges ?? false,
  };
  // JSON.stringify would move integer-like keys ("0", "123") to the front of an object, so the vocabulary is
  // written by hand in id order. Merges use the "left right" string form every reader accepts.
  const modelFields = Object.entries(model).map(
    ([key, value]) => `    ${JSON.stringify(key)}: ${JSON.stringify(value)}`,
  );
  const vocab = tokens.map((token, id) => `      ${JSON.stringify(token)}: ${id}`).join(',\n');
  const mergeLines = merges.map((merge) => `      ${JSON.stringify(merge)}`).join(',\n');
  const headText = JSON.stringify(head, null, 2).slice(0, -2);
  return `${headText},\n  "model": {\n${modelFields.join(',\n')},\n    "vocab": {\n${vocab}\n    },\n    "merges": [\n${mergeLines}\n    ]\n  }\n}\n`;
}

/**
 * tokenizer.json of a trained tokenizer: Qwen 2 style (its pre-tokenizer in llama.cpp's spelling, without its
 * NFC normalizer; see train.ts), the special tokens following the model vocabulary, as in Qwen 2 and Llama 3.
 */
function tokenizerJsonText(trained: TrainedBpe, specialTokens: string[]): string {
  const { tokens, merges } = trained;
  return byteLevelBpeJson({
    tokens,
    merges: merges.map(([a, b]) => `${tokens[a]} ${tokens[b]}`),
    addedTokens: specialTokens.map((content, i) => ({ id: tokens.length + i, content })),
    pattern: QWEN2_CPP_PATTERN,
    postProcessor: true,
  });
}

/** tokenizer_config.json for a trained tokenizer (transformers' PreTrainedTokenizerFast; no BOS, as Qwen 2). */
export function tokenizerConfig(modelVocabSize: number, specialTokens: string[]): Record<string, unknown> {
  const chat = specialTokens.includes('<|im_start|>') && specialTokens.includes('<|im_end|>');
  return {
    add_bos_token: false,
    add_eos_token: false,
    added_tokens_decoder: Object.fromEntries(
      specialTokens.map((content, i) => [
        String(modelVocabSize + i),
        { content, lstrip: false, normalized: false, rstrip: false, single_word: false, special: true },
      ]),
    ),
    bos_token: null,
    ...(chat ? { chat_template: CHATML_TEMPLATE } : {}),
    clean_up_tokenization_spaces: false,
    eos_token: specialTokens[0] ?? null,
    errors: 'replace',
    pad_token: specialTokens[0] ?? null,
    split_special_tokens: false,
    tokenizer_class: 'PreTrainedTokenizerFast',
    unk_token: null,
  };
}

/** Writes tokenizer.json, tokenizer_config.json and (for ChatML) chat_template.jinja into `dir`. */
export function writeTokenizerFiles(dir: string, trained: TrainedBpe, specialTokens: string[]): void {
  writeFileSync(join(dir, 'tokenizer.json'), tokenizerJsonText(trained, specialTokens));
  const config = tokenizerConfig(trained.tokens.length, specialTokens);
  writeFileSync(join(dir, 'tokenizer_config.json'), `${JSON.stringify(config, null, 2)}\n`);
  if (typeof config.chat_template === 'string')
    writeFileSync(join(dir, 'chat_template.jinja'), config.chat_template);
}
