// `ownlm tokenizer train`: thin over studio's trainTokenizer; flags, progress bars, a summary line.
import { parseArgs } from 'node:util';
import { DEFAULT_SPECIAL_TOKENS, trainTokenizer, type TrainProgress } from '@ownlm/studio';
import type { Command } from '../command.ts';
import { trainProgress } from '../train-progress.ts';
import { ProgressBar } from '../progress-bar.ts';

const usage = `usage: ownlm tokenizer train INPUT... --out DIR [options]

Trains a byte-level BPE tokenizer and writes tokenizer.json, tokenizer_config.json (ChatML chat_template)
and chat_template.jinja, loadable by Hugging Face tokenizers/transformers; llama.cpp pre-tokenizer "qwen2".

INPUT is a prepared corpus folder (its train.jsonl), a .jsonl file (field "text") or a plain text file.

options:
  --out DIR             output folder (required)
  --vocab-size N        total vocabulary, special tokens included (default 32000)
  --min-frequency N     do not merge pairs seen fewer times (default 2)
  --special-tokens A,B  special tokens, the first being end-of-text (default ${DEFAULT_SPECIAL_TOKENS.join(',')})
  --max-words N         bound on distinct pre-tokens held while counting (default 2000000)
  --workers N           counting threads (default: one per core)
  --force               replace a non-empty output folder
  --events PATH|-       also write JSON events (tokenizer-train-stage, tokenizer-train-done) to PATH or stdout
  -h, --help            show this help`;

export const command: Command = {
  summary: 'train a byte-level BPE tokenizer (Hugging Face files, llama.cpp compatible)',
  async run(argv) {
    const { values, positionals } = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        out: { type: 'string' },
        'vocab-size': { type: 'string' },
        'min-frequency': { type: 'string' },
        'special-tokens': { type: 'string' },
        'max-words': { type: 'string' },
        workers: { type: 'string' },
        force: { type: 'boolean' },
        events: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    });
    if (values.help) {
      console.log(usage);
      return 0;
    }
    if (!values.out || positionals.length === 0) {
      console.error(`ownlm tokenizer train: give at least one INPUT and --out DIR\n\n${usage}`);
      return 2;
    }
    const events = trainProgress({ events: values.events });
    // With events on stdout, the human summary goes to stderr.
    const say = values.events === '-' ? console.error : console.log;
    const bars: Partial<Record<TrainProgress['phase'], ProgressBar>> = {};
    const result = await trainTokenizer({
      inputs: positionals,
      outDir: values.out,
      vocabSize: integer(values['vocab-size'], '--vocab-size'),
      minFrequency: integer(values['min-frequency'], '--min-frequency'),
      specialTokens: values['special-tokens']?.split(','),
      maxWords: integer(values['max-words'], '--max-words'),
      workers: integer(values.workers, '--workers'),
      overwrite: values.force,
      onProgress: ({ phase, done, total }) => {
        if (phase === 'merge') bars.count?.finish();
        if (!bars[phase]) events.emit({ type: 'tokenizer-train-stage', stage: phase });
        const bar = (bars[phase] ??=
          phase === 'count'
            ? new ProgressBar({ label: 'counting', total: total / 1e6, unit: 'MB' })
            : new ProgressBar({ label: 'merging ', total, unit: 'merges' }));
        bar.update(phase === 'count' ? done / 1e6 : done);
      },
    });
    bars.merge?.finish();
    const { tokenizer } = result;
    say(
      `tokenizer: ${values.out} (vocab ${tokenizer.vocabSize}, ${result.merges} merges, ${result.uniqueWords} distinct words${result.approximateCounts ? ', counts approximate' : ''})`,
    );
    say(`sha256 ${tokenizer.hash}; llama.cpp tokenizer.ggml.pre = "${tokenizer.llamaCppPre}"`);
    events.emit({ type: 'artifact-written', kind: 'tokenizer', path: values.out });
    events.emit({
      type: 'tokenizer-train-done',
      out: values.out,
      vocabSize: tokenizer.vocabSize,
      merges: result.merges,
      sha256: tokenizer.hash,
    });
    await events.close();
    return 0;
  },
};

function integer(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value)) throw new Error(`${flag} must be a non-negative integer (got "${value}")`);
  return Number(value);
}
