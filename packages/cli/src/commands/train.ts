// `ownlm train`: pretraining from a YAML config, every key overridable by a flag of the same name.
import {
  configFromFlags,
  mergeConfig,
  readConfigFile,
  resolveConfig,
  runTraining,
  trainSettings,
} from '@ownlm/studio';
import { defineCommand, eventsOption } from '../command.ts';
import { trainProgress } from '../train-progress.ts';

export const command = defineCommand({
  name: 'train',
  summary: 'pretrain a model on packed token shards',
  usage: 'ownlm train [--config run.yaml] [--KEY VALUE ...] [--resume] [--events PATH|-]',
  about: `Pretrains a Llama-family model on packed token shards (\`ownlm data pack\`). Settings come from the YAML file,
then from flags (--batch-size 8 overrides batch_size). Required: data, tokenizer, out.`,
  options: {
    config: { kind: 'string', placeholder: 'FILE', help: 'YAML (or JSON) training config' },
    resume: { kind: 'boolean', help: 'continue from the newest good checkpoint in the run folder' },
    events: eventsOption('its training events'),
  },
  settings: trainSettings,
  async run({ values, settings }) {
    const fromFile = values.config === undefined ? {} : readConfigFile(values.config);
    const config = resolveConfig(
      mergeConfig(fromFile, configFromFlags(settings), 'flags'),
      values.config ?? 'flags',
    );
    const progress = trainProgress({ events: values.events });
    try {
      runTraining(config, { resume: values.resume, onEvent: progress.onEvent });
    } finally {
      await progress.close();
    }
    return 0;
  },
});
