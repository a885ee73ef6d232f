// `ownlm sample`: stream a continuation of a prompt from a model folder (a checkpoint or an imported model).
import { generate } from '@ownlm/engine';
import { loadModelFolder } from '@ownlm/studio';
import { defineCommand } from '../command.ts';

export const command = defineCommand({
  name: 'sample',
  summary: 'generate text from a model folder',
  usage: 'ownlm sample --model DIR [--prompt TEXT] [options]',
  about: `Generates text from a model folder (a training checkpoint, \`ownlm import\` output, or a Hugging Face folder),
streaming tokens as they come.`,
  options: {
    model: { kind: 'string', required: true, placeholder: 'DIR', help: 'model folder' },
    prompt: {
      kind: 'string',
      placeholder: 'TEXT',
      defaultHelp: 'the end-of-text token, i.e. unconditioned',
      help: 'text to continue',
    },
    max_tokens: { kind: 'number', default: 100, help: 'tokens to generate' },
    temperature: { kind: 'number', default: 0.8, help: '0 = greedy' },
    top_k: { kind: 'number', default: 40, help: 'keep the k most likely tokens; 0 = off' },
    top_p: { kind: 'number', default: 1, help: 'nucleus sampling threshold; 1 = off' },
    repetition_penalty: { kind: 'number', default: 1, help: '> 1 discourages repeats' },
    seed: { kind: 'number', default: 0, help: 'sampler seed' },
  },
  async run({ values }) {
    const { model, tokenizer } = loadModelFolder(values.model);
    const prompt = values.prompt ?? '';
    const ids = prompt ? tokenizer.encode(prompt) : Int32Array.of(tokenizer.eosId ?? 0);
    const stop = tokenizer.eosId === null ? [] : [tokenizer.eosId];
    const options = {
      maxNewTokens: values.max_tokens,
      temperature: values.temperature,
      topK: values.top_k,
      topP: values.top_p,
      repetitionPenalty: values.repetition_penalty,
      seed: values.seed,
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
});
