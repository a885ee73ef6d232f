// `ownlm data pack`: thin over studio's packCorpus; flags, a progress bar, a summary per split.
import { parseArgs } from 'node:util';
import { packCorpus } from '@ownlm/studio';
import type { Command } from '../command.ts';
import { ProgressBar } from '../progress-bar.ts';

const usage = `usage: ownlm data pack --corpus DIR --tokenizer DIR --out DIR [options]

Encodes a prepared corpus (train.jsonl, validation.jsonl) into token shards (<split>-NNNNN.bin, uint16 or
uint32) with index.json, each document followed by the tokenizer's end-of-text token.

options:
  --corpus DIR        prepared corpus folder (from \`ownlm data prepare\`, required)
  --tokenizer PATH    tokenizer folder or tokenizer.json (required)
  --out DIR           output folder (required)
  --shard-tokens N    tokens per shard file (default 67108864)
  --workers N         encoding threads (default: one per core)
  --force             replace a non-empty output folder
  -h, --help          show this help`;

export const command: Command = {
  summary: 'encode a prepared corpus into token shards for training',
  async run(argv) {
    const { values } = parseArgs({
      args: argv,
      options: {
        corpus: { type: 'string' },
        tokenizer: { type: 'string' },
        out: { type: 'string' },
        'shard-tokens': { type: 'string' },
        workers: { type: 'string' },
        force: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    });
    if (values.help) {
      console.log(usage);
      return 0;
    }
    if (!values.corpus || !values.tokenizer || !values.out) {
      console.error(`ownlm data pack: --corpus, --tokenizer and --out are required\n\n${usage}`);
      return 2;
    }
    const progress: { bar?: ProgressBar } = {};
    const index = await packCorpus({
      corpus: values.corpus,
      tokenizer: values.tokenizer,
      outDir: values.out,
      shardTokens: integer(values['shard-tokens'], '--shard-tokens'),
      workers: integer(values.workers, '--workers'),
      overwrite: values.force,
      onProgress: ({ done, total }) => {
        progress.bar ??= new ProgressBar({ label: 'packing', total: total / 1e6, unit: 'MB' });
        progress.bar.update(done / 1e6);
      },
    });
    progress.bar?.finish();
    for (const [split, entry] of Object.entries(index.splits)) {
      console.log(
        `${split}: ${entry.documents} documents, ${entry.tokens} tokens in ${entry.shards.length} shard(s)`,
      );
    }
    console.log(
      `shards: ${values.out} (${index.dtype}, tokenizer sha256 ${index.tokenizer.sha256.slice(0, 12)}…)`,
    );
    return 0;
  },
};

function integer(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value)) throw new Error(`${flag} must be a non-negative integer (got "${value}")`);
  return Number(value);
}
