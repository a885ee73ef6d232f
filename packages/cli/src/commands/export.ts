// `ownlm export`: a model folder to a GGUF for llama.cpp (and Ollama, LM Studio) or to a Hugging Face folder,
// published only after llama.cpp reproduces the engine's tokenization and greedy output.
import { parseArgs } from 'node:util';
import { exportModel, type ExportFormat } from '@ownlm/studio';
import type { Command } from '../command.ts';
import { trainProgress } from '../train-progress.ts';

const usage = `usage: ownlm export --model DIR --out PATH [--format gguf|hf] [--dtype TYPE] [options]

Exports a model folder (a training checkpoint, \`ownlm import\` output or a Hugging Face Llama folder).
A GGUF is checked in llama.cpp before it is written: the golden texts must tokenize to the same ids and the
golden prompts must continue greedily with the engine's tokens (32 for f32/f16/bf16, 8 for q8_0/q4_0).
Any difference refuses the export and names the prompt and token; nothing is left at --out.

options:
  --model DIR          model folder (required)
  --out PATH           .gguf file, or a folder with --format hf (required)
  --format F           gguf (default) or hf
  --dtype T            gguf: f32, f16 (default), bf16, q8_0, q4_0; hf: f32 (default), f16, bf16
  --prompt TEXT        a golden prompt to check besides the built-in ones (repeatable)
  --tokens N           greedy tokens compared per prompt (default 32, or 8 when quantized)
  --name TEXT          general.name of the GGUF (default: the model folder's name)
  --no-verify          skip the checks (not recommended)
  --force              replace an existing --out
  --events PATH|-      also write JSON events (artifact-written, export-done) to PATH or stdout
  -h, --help           show this help`;

export const command: Command = {
  summary: 'export a model to GGUF (llama.cpp) or a Hugging Face folder, verified',
  async run(argv) {
    const { values } = parseArgs({
      args: argv,
      options: {
        model: { type: 'string' },
        out: { type: 'string' },
        format: { type: 'string', default: 'gguf' },
        dtype: { type: 'string' },
        prompt: { type: 'string', multiple: true },
        tokens: { type: 'string' },
        name: { type: 'string' },
        'no-verify': { type: 'boolean' },
        force: { type: 'boolean' },
        events: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    });
    if (values.help) {
      console.log(usage);
      return 0;
    }
    if (!values.model || !values.out) {
      console.error(usage);
      return 2;
    }
    const format = values.format as ExportFormat;
    const tokens = values.tokens === undefined ? undefined : Number(values.tokens);
    if (tokens !== undefined && !(Number.isInteger(tokens) && tokens > 0))
      throw new Error(`--tokens must be a positive integer, got '${values.tokens}'`);
    const report = await exportModel({
      model: values.model,
      out: values.out,
      format,
      dtype: (values.dtype ?? (format === 'hf' ? 'f32' : 'f16')) as 'f32',
      prompts: values.prompt,
      tokens,
      name: values.name,
      verify: !values['no-verify'],
      overwrite: values.force,
    });
    // With events on stdout, the human summary goes to stderr.
    const say = values.events === '-' ? console.error : console.log;
    const mb = (report.bytes / 1e6).toFixed(1);
    say(`wrote ${report.out} (${mb} MB) in ${report.writeSeconds.toFixed(1)} s`);
    if (values['no-verify']) say('not verified (--no-verify)');
    else if (format === 'hf')
      say(`verified in ${report.verifySeconds.toFixed(1)} s: every tensor reads back as written`);
    else {
      const ties = report.prompts.filter((p) => p.nearTie);
      const compared = report.prompts.reduce((n, p) => n + p.compared, 0);
      say(
        `verified in llama.cpp in ${report.verifySeconds.toFixed(1)} s: ${report.tokenizationTexts} texts tokenize identically, ` +
          `${compared} greedy tokens over ${report.prompts.length} prompts identical`,
      );
      for (const p of ties)
        say(
          `  ${JSON.stringify(p.prompt.slice(0, 40))}: diverged at token ${p.nearTie!.at} on a near-tie (${p.nearTie!.gapInStd.toFixed(4)} std apart)`,
        );
    }
    const events = trainProgress({ events: values.events });
    events.emit({ type: 'artifact-written', kind: format === 'hf' ? 'hf-folder' : 'gguf', path: report.out });
    events.emit({
      type: 'export-done',
      out: report.out,
      format,
      bytes: report.bytes,
      verified: !values['no-verify'],
    });
    await events.close();
    return 0;
  },
};
