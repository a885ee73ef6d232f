// `ownlm data pack`: thin over studio's packCorpus; flags, a progress bar, a summary per split.
import { packCorpus } from '@ownlm/studio';
import { defineCommand, positiveInteger } from '../command.ts';
import { ProgressBar } from '../progress-bar.ts';

export const command = defineCommand({
  name: 'data pack',
  summary: 'encode a prepared corpus into token shards for training',
  usage: 'ownlm data pack --corpus DIR --tokenizer DIR --out DIR [options]',
  about: `Encodes a prepared corpus (train.jsonl, validation.jsonl) into token shards (<split>-NNNNN.bin, uint16 or
uint32) with index.json, each document followed by the tokenizer's end-of-text token.`,
  options: {
    corpus: {
      kind: 'string',
      required: true,
      placeholder: 'DIR',
      help: 'prepared corpus folder, from `ownlm data prepare`',
    },
    tokenizer: {
      kind: 'string',
      required: true,
      placeholder: 'PATH',
      help: 'tokenizer folder or tokenizer.json',
    },
    out: { kind: 'string', required: true, placeholder: 'DIR', help: 'output folder' },
    shard_tokens: {
      kind: 'integer',
      rule: positiveInteger,
      defaultHelp: '67108864',
      help: 'tokens per shard file',
    },
    workers: {
      kind: 'integer',
      rule: positiveInteger,
      defaultHelp: 'one per core',
      help: 'encoding threads',
    },
    force: { kind: 'boolean', help: 'replace a non-empty output folder' },
  },
  async run({ values }) {
    const progress: { bar?: ProgressBar } = {};
    const index = await packCorpus({
      corpus: values.corpus,
      tokenizer: values.tokenizer,
      outDir: values.out,
      shardTokens: values.shard_tokens,
      workers: values.workers,
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
});
