// `ownlm finetune`: a base model and a conversation dataset to a verified adapter (or merged model) and a
// before/after report. Settings come from an optional YAML or JSON file (--config), then from flags of the same
// names; the server's job runner spawns this command with `--events -` and reads its JSON lines.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  finetuneConfigFromFlags,
  finetuneSettings,
  mergeFinetuneConfig,
  readFinetuneConfigFile,
  resolveFinetuneConfig,
  runFinetune,
  type FinetuneEvent,
} from '@ownlm/studio';
import { defineCommand, eventsOption } from '../command.ts';
import { trainProgress } from '../train-progress.ts';

const stageTitles: Record<string, string> = {
  'prepare-base': 'load the base model',
  'encode-dataset': 'encode the conversations',
  'evaluate-base': 'evaluate the base model',
  train: 'train',
  'write-outputs': 'write and verify the outputs',
  report: 'write the report',
};

function readScenarios(path: string): string[] {
  const text = readFileSync(path, 'utf8');
  if (!path.endsWith('.json')) return text.split('\n').filter((line) => line.trim() !== '');
  const parsed = JSON.parse(text) as unknown;
  if (!Array.isArray(parsed) || parsed.some((s) => typeof s !== 'string'))
    throw new Error(`${path}: scenarios must be a JSON array of strings`);
  return parsed as string[];
}

export const command = defineCommand({
  name: 'finetune',
  summary: 'fine-tune a model on conversations (LoRA or full) with verified outputs and a report',
  usage: `ownlm finetune --base PATH --data DIR --out DIR [--config FILE] [--SETTING VALUE ...]
                      [--scenarios FILE] [--resume] [--events PATH|-]`,
  about: `Fine-tunes a base model (a model folder or a llama GGUF) on a conversation dataset (\`ownlm dataset import\`)
with the loss on assistant tokens only. LoRA (default) writes <out>/adapter/ (PEFT), <out>/adapter.gguf and
the base GGUF it is served on; --merge (and --method full) also write <out>/merged/ and <out>/merged.gguf.
Every output is verified (llama.cpp must reproduce the engine's greedy tokens) before it is published.
<out>/report.{json,md,html} compares base and tuned: held-out assistant perplexity and scenario answers.`,
  options: {
    config: {
      kind: 'string',
      placeholder: 'FILE',
      help: 'YAML or JSON file of settings (flags override them)',
    },
    scenarios: {
      kind: 'string',
      placeholder: 'FILE',
      help: 'scenario prompts: one per line, or a JSON array of strings in a .json file',
    },
    resume: { kind: 'boolean', help: 'continue from the newest good checkpoint in --out' },
    events: eventsOption('its events'),
  },
  settings: finetuneSettings,
  async run({ values, settings }) {
    const fromFlags = finetuneConfigFromFlags(settings);
    if (values.scenarios !== undefined) fromFlags.scenarios = readScenarios(values.scenarios);
    const fromFile = values.config === undefined ? {} : readFinetuneConfigFile(values.config);
    const config = resolveFinetuneConfig(
      mergeFinetuneConfig(fromFile, fromFlags, 'flags'),
      values.config ?? 'flags',
    );

    const events = values.events;
    const progress = trainProgress({ events });
    // Human lines go to stderr when stdout carries the JSON events.
    const say = (line: string) => (events === '-' ? process.stderr : process.stdout).write(`${line}\n`);
    const stages = Object.keys(stageTitles);
    const onEvent = (event: FinetuneEvent) => {
      switch (event.type) {
        case 'finetune-stage':
          progress.emit(event);
          say(`${stages.indexOf(event.stage) + 1}/${stages.length} ${stageTitles[event.stage]}`);
          break;
        case 'dataset-encoded':
          progress.emit(event);
          say(
            `  ${event.split}: ${event.conversations} conversations, ${event.assistantTokens} assistant tokens` +
              (event.truncated > 0 ? `; ${event.truncated} cut at the context` : '') +
              (event.dropped > 0 ? `; ${event.dropped} dropped (nothing left to train on)` : ''),
          );
          break;
        case 'artifact-written':
          progress.emit(event);
          say(`  wrote ${event.path}`);
          break;
        default:
          progress.onEvent(event);
      }
    };
    try {
      const result = await runFinetune(config, { resume: values.resume, onEvent });
      const { base, tuned } = result.report.perplexity;
      say(`held-out assistant perplexity: base ${base.toFixed(3)} → tuned ${tuned.toFixed(3)}`);
      const done = {
        type: 'finetune-done',
        out: result.out,
        adapterGguf: result.outputs.adapterGguf,
        baseGguf: result.outputs.baseGguf,
        mergedGguf: result.outputs.mergedGguf,
        peftAdapter: result.outputs.peftAdapter,
        report: join(result.out, 'report.json'),
      };
      progress.emit(done);
    } finally {
      await progress.close();
    }
    return 0;
  },
});
