// `ownlm train`: pretraining from a YAML config, every key overridable by a flag of the same name.
import { parseArgs } from 'node:util';
import {
  configFromFlags,
  mergeConfig,
  readConfigFile,
  resolveConfig,
  runTraining,
  trainDefaults,
} from '@ownlm/studio';
import type { Command } from '../command.ts';
import { trainProgress } from '../train-progress.ts';

const usage = `usage: ownlm train [--config run.yaml] [--KEY VALUE ...] [--resume] [--events PATH|-]

Pretrains a Llama-family model on packed token shards (\`ownlm data pack\`). Settings come from the YAML file,
then from flags (--batch-size 8 overrides batch_size). Required: data, tokenizer, out.

options:
  --config FILE       YAML training config
  --resume            continue from the newest good checkpoint in the run folder
  --events PATH|-     also write one JSON event per line to PATH (or stdout)
  -h, --help          show this help

settings (defaults):
${Object.entries(trainDefaults)
  .map(([key, value]) => `  --${key.replace(/_/g, '-')} ${JSON.stringify(value)}`)
  .join('\n')}
  --data DIR --tokenizer DIR --out DIR`;

export const command: Command = {
  summary: 'pretrain a model on packed token shards',
  async run(argv) {
    const { values, tokens } = parseArgs({
      args: argv,
      strict: false,
      tokens: true,
      options: {
        config: { type: 'string' },
        resume: { type: 'boolean' },
        events: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    });
    if (values.help) {
      console.log(usage);
      return 0;
    }
    const flags: Record<string, string> = {};
    for (let i = 0; i < tokens.length; i++) {
      const token = tokens[i];
      if (token.kind === 'positional')
        throw new Error(`unexpected argument '${token.value}'; see \`ownlm train --help\``);
      if (token.kind !== 'option' || ['config', 'resume', 'events', 'help'].includes(token.name)) continue;
      const value =
        token.value ??
        (tokens[i + 1]?.kind === 'positional' ? (tokens[++i] as { value: string }).value : undefined);
      if (value === undefined) throw new Error(`--${token.name} needs a value`);
      flags[token.name] = value;
    }
    const fromFile = typeof values.config === 'string' ? readConfigFile(values.config) : {};
    const config = resolveConfig(
      mergeConfig(fromFile, configFromFlags(flags), 'flags'),
      typeof values.config === 'string' ? values.config : 'flags',
    );
    const progress = trainProgress({ events: typeof values.events === 'string' ? values.events : undefined });
    try {
      runTraining(config, { resume: values.resume === true, onEvent: progress.onEvent });
    } finally {
      await progress.close();
    }
    return 0;
  },
};
