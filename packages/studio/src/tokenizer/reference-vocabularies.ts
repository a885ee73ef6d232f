// Real vocabularies for tests and benchmarks, without a download: the `tiktoken` package ships OpenAI's GPT-2
// (r50k) and cl100k_base rank tables. They are converted to Hugging Face tokenizer.json the way transformers
// converts tiktoken files: a token's merge is found by running BPE on its bytes with only lower ranks until
// two parts remain. cl100k_base uses the Llama 3 regex, and tiktoken emits a piece that is in the vocabulary
// whole, which is `ignore_merges: true`.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { bytesToChars } from './byte-level.ts';
import { GPT2_PATTERN, LLAMA3_PATTERN } from './pretokenize.ts';
import { byteLevelBpeJson } from './tokenizer-files.ts';

export type ReferenceVocabulary = 'gpt2' | 'cl100k_base';

interface TiktokenTable {
  pat_str: string;
  special_tokens: Record<string, number>;
  bpe_ranks: string;
}

/** tokenizer.json text for one of tiktoken's encodings. */
export function referenceTokenizerJson(name: ReferenceVocabulary): string {
  const require = createRequire(import.meta.url);
  const table = JSON.parse(
    readFileSync(require.resolve(`tiktoken/encoders/${name}.json`), 'utf8'),
  ) as TiktokenTable;
  const expected = name === 'gpt2' ? GPT2_PATTERN : LLAMA3_PATTERN;
  if (table.pat_str !== expected) throw new Error(`tiktoken's ${name} pattern changed: ${table.pat_str}`);

  // bpe_ranks: "! <first rank> <base64 token> <base64 token> …", ranks consecutive after each "!" marker.
  const tokens: Uint8Array[] = [];
  const fields = table.bpe_ranks.split(' ');
  for (let i = 0, rank = 0; i < fields.length; i++) {
    if (fields[i] === '!') rank = Number(fields[++i]);
    else tokens[rank++] = Buffer.from(fields[i], 'base64');
  }
  const latin1 = (bytes: Uint8Array) => Buffer.from(bytes).toString('latin1');
  const rankOf = new Map(tokens.map((t, rank) => [latin1(t), rank]));
  const merges: string[] = [];
  tokens.forEach((token, rank) => {
    if (token.length < 2) return;
    const parts = Array.from(token, (b) => String.fromCharCode(b));
    for (;;) {
      let best = rank;
      let at = -1;
      for (let i = 0; i < parts.length - 1; i++) {
        const r = rankOf.get(parts[i] + parts[i + 1]);
        if (r !== undefined && r < best) [best, at] = [r, i];
      }
      if (at < 0) break;
      parts.splice(at, 2, parts[at] + parts[at + 1]);
    }
    merges.push(parts.map((p) => bytesToChars(Buffer.from(p, 'latin1'))).join(' '));
  });

  return byteLevelBpeJson({
    tokens: tokens.map((token) => bytesToChars(token)),
    merges,
    addedTokens: Object.entries(table.special_tokens).map(([content, id]) => ({ id, content })),
    pattern: name === 'gpt2' ? null : LLAMA3_PATTERN,
    ignoreMerges: name !== 'gpt2',
  });
}
