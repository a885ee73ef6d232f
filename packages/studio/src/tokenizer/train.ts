// `ownlm tokenizer train`: byte-level BPE trained from a prepared corpus or text files, written as Hugging Face
// tokenizer.json + tokenizer_config.json (ChatML template) that load unchanged in tokenizers, tokenizers.js,
// transformers and, through a GGUF, llama.cpp.
//
// Pre-tokenizer: the Qwen 2 regex (QWEN2_CPP_PATTERN) without normalizer or ignore_merges, which is llama.cpp's
// `tokenizer.ggml.pre = "qwen2"`. Checked with llama.cpp (node-llama-cpp 3.22.1, a vocab-only GGUF of a
// trained tokenizer, 5,005 generated strings): llama.cpp's ids equal tokenizers' and ownlm's with and without
// special-token parsing, and llama_detokenize gives every string back unchanged. Against the alternatives:
// - `llama-bpe` (Llama 3 regex, digits in threes) tokenized identically too and compresses English about
//   1.2% better (demo corpus, 30k vocabulary), but llama.cpp turns on `clean_spaces` for it, and its
//   detokenize then drops the space before . , ? ! and 's: 150 of the 5,005 strings came back altered, and
//   node-llama-cpp's LlamaChat makes its generated text with that call ("a ? b" in code would read "a? b").
//   It also defaults add_bos to true, which every GGUF writer would have to override.
// - `gpt-2` (GPT-2 regex) keeps unbounded digit runs as one piece and has no rules for newlines, which suits
//   numbers and code worse.
// The regex is stored as llama.cpp spells it (contractions as '[sS] rather than (?i:'s)): under (?i:…)
// Oniguruma's case folding makes "'ſ" a contraction while llama.cpp and tokenizers.js do not. llama.cpp
// applies no normalizer, so unlike Qwen 2's tokenizer.json ours has no NFC step. No BOS, as in Qwen 2: a GGUF
// should still write tokenizer.ggml.add_bos_token = false (tokenizer_config.json says add_bos_token false).
import { availableParallelism } from 'node:os';
import type { CountRequest, CountWorkerData } from './count-worker.ts';
import { DataError } from '../data/errors.ts';
import { WorkerPool } from '../data/worker-pool.ts';
import { trainBpe } from './bpe-trainer.ts';
import { chunkTexts, readChunks, resolveCorpusFiles, type CorpusFile } from './corpus-reader.ts';
import { QWEN2_CPP_PATTERN } from './pretokenize.ts';
import { abandonOutput, finishOutput, startOutput } from './publish.ts';
import { Tokenizer } from './tokenizer.ts';
import { DEFAULT_SPECIAL_TOKENS, writeTokenizerFiles } from './tokenizer-files.ts';
import { WordCounter, type WordCounts } from './word-counter.ts';

export interface TrainTokenizerOptions {
  /** Prepared corpus folders (their train.jsonl), .jsonl files (field "text") or plain text files. */
  inputs: string[];
  outDir: string;
  /** Total vocabulary including the special tokens (default 32000). */
  vocabSize?: number;
  /** Pairs seen fewer times are not merged; training stops before reaching vocabSize if none is left (default 2). */
  minFrequency?: number;
  /** Added as special tokens after the learned vocabulary; the first is the end-of-text token. */
  specialTokens?: string[];
  /** Bound on distinct pre-tokens held while counting; beyond it the rarest are dropped (default 2,000,000). */
  maxWords?: number;
  /** Counting threads (default: one per core; 0 counts on the calling thread). */
  workers?: number;
  /** Replace a non-empty outDir. */
  overwrite?: boolean;
  onProgress?: (progress: TrainProgress) => void;
}

/** Counting reports input bytes read; merging reports merges learned against those needed for vocabSize. */
export interface TrainProgress {
  phase: 'count' | 'merge';
  done: number;
  total: number;
}

export interface TrainTokenizerResult {
  tokenizer: Tokenizer;
  /** Learned merges; fewer than vocabSize asks for when minFrequency stopped training first. */
  merges: number;
  uniqueWords: number;
  /** True when maxWords forced rare words out of the counts. */
  approximateCounts: boolean;
}

export async function trainTokenizer(options: TrainTokenizerOptions): Promise<TrainTokenizerResult> {
  const specialTokens = options.specialTokens ?? DEFAULT_SPECIAL_TOKENS;
  const vocabSize = options.vocabSize ?? 32000;
  const minFrequency = options.minFrequency ?? 2;
  const maxWords = options.maxWords ?? 2_000_000;
  const workers = options.workers ?? availableParallelism();
  checkOptions(vocabSize, minFrequency, specialTokens, maxWords, workers);
  const files = resolveCorpusFiles(options.inputs);
  const temp = startOutput(options.outDir, options.overwrite ?? false);
  try {
    const counter = await countWords(files, specialTokens, maxWords, workers, options.onProgress);
    const modelVocabSize = vocabSize - specialTokens.length;
    const total = modelVocabSize - 256;
    const trained = trainBpe(counter.counts, {
      modelVocabSize,
      minFrequency,
      onProgress: (done) => options.onProgress?.({ phase: 'merge', done, total }),
    });
    writeTokenizerFiles(temp, trained, specialTokens);
    finishOutput(temp, options.outDir);
    return {
      tokenizer: Tokenizer.fromFile(options.outDir),
      merges: trained.merges.length,
      uniqueWords: counter.counts.size,
      approximateCounts: counter.approximate,
    };
  } catch (error) {
    abandonOutput(temp);
    throw error;
  }
}

function checkOptions(
  vocabSize: number,
  minFrequency: number,
  specialTokens: string[],
  maxWords: number,
  workers: number,
): void {
  const fail = (message: string): never => {
    throw new DataError('options-invalid', message);
  };
  const smallest = 256 + specialTokens.length;
  if (!Number.isInteger(vocabSize) || vocabSize < smallest || vocabSize > 1 << 21) {
    fail(
      `vocab size must be an integer from ${smallest} (256 bytes + ${specialTokens.length} special tokens) to ${1 << 21}`,
    );
  }
  if (!Number.isInteger(minFrequency) || minFrequency < 0)
    fail('min frequency must be a non-negative integer');
  if (!Number.isInteger(maxWords) || maxWords < 1000) fail('max words must be an integer of at least 1000');
  if (!Number.isInteger(workers) || workers < 0) fail('workers must be a non-negative integer');
  if (specialTokens.some((t) => t === '') || new Set(specialTokens).size !== specialTokens.length) {
    fail('special tokens must be distinct and non-empty');
  }
}

/** Counts pre-tokens over all files, in `workers` threads fed with chunks of lines (or on this thread). */
async function countWords(
  files: CorpusFile[],
  specialTokens: string[],
  maxWords: number,
  workers: number,
  onProgress: TrainTokenizerOptions['onProgress'],
): Promise<WordCounter> {
  const total = files.reduce((sum, f) => sum + f.bytes, 0);
  let done = 0;
  const report = (bytes: number) => {
    done += bytes;
    onProgress?.({ phase: 'count', done, total });
  };
  const counter = new WordCounter(QWEN2_CPP_PATTERN, specialTokens, maxWords);
  if (workers === 0) {
    for (const file of files) {
      for await (const chunk of readChunks(file)) {
        for (const text of chunkTexts(chunk)) counter.add(text);
        report(chunk.data.length);
      }
    }
    return counter;
  }
  const data: CountWorkerData = { pattern: QWEN2_CPP_PATTERN, specialTokens, maxWords };
  const pool = new WorkerPool(new URL('./count-worker.ts', import.meta.url), data, workers);
  try {
    // Two chunks per worker in flight keep every thread busy while bounding memory.
    const queue: Promise<number>[] = [];
    for (const file of files) {
      for await (const chunk of readChunks(file)) {
        const reply = pool.run<number>({ kind: 'chunk', chunk } satisfies CountRequest);
        reply.catch(() => {}); // awaited below; this only keeps an early failure from being "unhandled"
        queue.push(reply);
        while (queue.length >= workers * 2) report(await queue.shift()!);
      }
    }
    while (queue.length > 0) report(await queue.shift()!);
    for (const counts of await pool.broadcast<WordCounts>({ kind: 'finish' } satisfies CountRequest))
      counter.merge(counts);
    return counter;
  } finally {
    await pool.close();
  }
}
