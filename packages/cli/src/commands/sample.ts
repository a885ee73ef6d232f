// `ownlm sample`: stream a continuation of a prompt from a model folder (a checkpoint or an imported model).
import { parseArgs } from 'node:util';
import { generate } from '@ownlm/engine';
import { loadModelFolder } from '@ownlm/studio';
import type { Command } from '../command.ts';

const usage = `usage: ownlm sample --model DIR [--prompt TEXT] [options]

Generates text from a model folder (a training checkpoint, \`ownlm import\` output, or a Hugging Face folder),
streaming tokens as they come.

options:
  --model DIR               model folder (required)
  --prompt TEXT             text to continue (default: the end-of-text token, i.e. unconditioned)
  --max-tokens N            tokens to generate (default 100)
  --temperature X           0 = greedy (default 0.8)
  --top-k N                 keep the k most likely tokens (default 40; 0 = off)
  --top-p X                 nucleus sampling threshold (default 1 = off)
  --repetition-penalty X    > 1 discourages repeats (default 1)
  --seed N                  sampler seed (default 0)
  -h, --help                show this help`;

function number(value: string | undefined, fallback: number, flag: string): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n))
    throw new Error(`--${flag} must be a number, got '${value}'`);
  return n;
}

export const command: Command = {
  summary: 'generate text from a model folder',
  async run(argv) {
    const { values } = parseArgs({
      args: argv,
      options: {
        model: { type: 'string' },
        prompt: { type: 'string' },
        'max-tokens': { type: 'string' },
        temperature: { type: 'string' },
        'top-k': { type: 'string' },
        'top-p': { type: 'string' },
        'repetition-penalty': { type: 'string' },
        seed: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    });
    if (values.help) {
      console.log(usage);
      return 0;
    }
    if (!values.model) {
      console.error(usage);
      return 2;
    }
    const { model, tokenizer } = loadModelFolder(values.model);
    const prompt = values.prompt ?? '';
    const ids = prompt ? tokenizer.encode(prompt) : Int32Array.of(tokenizer.eosId ?? 0);
    const stop = tokenizer.eosId === null ? [] : [tokenizer.eosId];
    const options = {
      maxNewTokens: number(values['max-tokens'], 100, 'max-tokens'),
      temperature: number(values.temperature, 0.8, 'temperature'),
      topK: number(values['top-k'], 40, 'top-k'),
      topP: number(values['top-p'], 1, 'top-p'),
      repetitionPenalty: number(values['repetition-penalty'], 1, 'repetition-penalty'),
      seed: number(values.seed, 0, 'seed'),
      stopTokens: stop,
    };
    process.stdout.write(prompt);
    // Decode the whole continuation each time, so multi-byte characters split across tokens print whole.
    const generated: number[] = [];
    let printed = '';
    for await (const token of generate(model, ids, options)) {
      if (stop.includes(token)) break;
      generated.push(token);
      const text = tokenizer.decode(generated);
      if (!text.endsWith('\uFFFD')) {
        process.stdout.write(text.slice(printed.length));
        printed = text;
      }
    }
    process.stdout.write('\n');
    return 0;
  },
};
