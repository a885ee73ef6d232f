// `ownlm finetune`: a base model and a conversation dataset to a verified adapter (or merged model) and a
// before/after report. Settings come from an optional YAML file, then from flags of the same names; the
// server's job runner spawns this command with `--events -` and reads its JSON lines.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import {
  finetuneConfigFromFlags,
  finetuneDefaults,
  mergeFinetuneConfig,
  readFinetuneConfigFile,
  resolveFinetuneConfig,
  runFinetune,
  type FinetuneEvent,
} from '@ownlm/studio';
import type { Command } from '../command.ts';
import { trainProgress } from '../train-progress.ts';

const defaultNotes: Record<string, string> = {
  targets: finetuneDefaults.targets.join(','),
  lr: 'null (2e-4 for lora, 2e-5 for full)',
  steps: 'null (from epochs)',
  context: "null (the base's max_position_embeddings)",
  scenarios: '(the first user turns of up to 4 held-out conversations)',
};

const usage = `usage: ownlm finetune --base PATH --data DIR --out DIR [--config YAML] [--SETTING VALUE ...]
                      [--rslora] [--merge] [--scenarios FILE] [--resume] [--events PATH|-]

Fine-tunes a base model (a model folder or a llama GGUF) on a conversation dataset (\`ownlm dataset import\`)
with the loss on assistant tokens only. LoRA (default) writes <out>/adapter/ (PEFT), <out>/adapter.gguf and
the base GGUF it is served on; --merge (and --method full) also write <out>/merged/ and <out>/merged.gguf.
Every output is verified (llama.cpp must reproduce the engine's greedy tokens) before it is published.
<out>/report.{json,md,html} compares base and tuned: held-out assistant perplexity and scenario answers.

options:
  --config FILE        YAML settings (flags override them)
  --scenarios FILE     scenario prompts: one per line, or a JSON array of strings in a .json file
  --rslora, --merge    switch the setting on
  --resume             continue from the newest good checkpoint in --out
  --events PATH|-      also write one JSON event per line to PATH (or stdout, which then carries only them)
  -h, --help           show this help

settings (defaults):
  --base PATH --data DIR --out DIR
${Object.entries(finetuneDefaults)
  .map(([key, value]) => `  --${key.replace(/_/g, '-')} ${defaultNotes[key] ?? JSON.stringify(value)}`)
  .join('\n')}`;

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

export const command: Command = {
  summary: 'fine-tune a model on conversations (LoRA or full) with verified outputs and a report',
  async run(argv) {
    const { values, tokens } = parseArgs({
      args: argv,
      strict: false,
      tokens: true,
      options: {
        config: { type: 'string' },
        scenarios: { type: 'string' },
        rslora: { type: 'boolean' },
        merge: { type: 'boolean' },
        resume: { type: 'boolean' },
        events: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    });
    if (values.help) {
      console.log(usage);
      return 0;
    }
    const own = ['config', 'scenarios', 'rslora', 'merge', 'resume', 'events', 'help', 'h'];
    const flags: Record<string, string> = {};
    for (let i = 0; i < tokens.length; i++) {
      const token = tokens[i];
      if (token.kind === 'positional')
        throw new Error(`unexpected argument '${token.value}'; see \`ownlm finetune --help\``);
      if (token.kind !== 'option' || own.includes(token.name)) continue;
      const value =
        token.value ??
        (tokens[i + 1]?.kind === 'positional' ? (tokens[++i] as { value: string }).value : undefined);
      if (value === undefined) throw new Error(`--${token.name} needs a value`);
      flags[token.name] = value;
    }
    const switches: Record<string, unknown> = {};
    if (values.rslora) switches.rslora = true;
    if (values.merge) switches.merge = true;
    if (typeof values.scenarios === 'string') switches.scenarios = readScenarios(values.scenarios);
    const fromFile = typeof values.config === 'string' ? readFinetuneConfigFile(values.config) : {};
    const config = resolveFinetuneConfig(
      mergeFinetuneConfig(fromFile, { ...finetuneConfigFromFlags(flags), ...switches }, 'flags'),
      typeof values.config === 'string' ? values.config : 'flags',
    );

    const events = typeof values.events === 'string' ? values.events : undefined;
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
      const result = await runFinetune(config, { resume: values.resume === true, onEvent });
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
};
