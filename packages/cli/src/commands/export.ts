// `ownlm export`: a model folder to a GGUF for llama.cpp (and Ollama, LM Studio) or to a Hugging Face folder,
// published only after llama.cpp reproduces the engine's tokenization and greedy output.
import { exportModel, oneOf, type ExportFormat } from '@ownlm/studio';
import { defineCommand, eventsOption, positiveInteger } from '../command.ts';
import { trainProgress } from '../train-progress.ts';

export const command = defineCommand({
  name: 'export',
  summary: 'export a model to GGUF (llama.cpp) or a Hugging Face folder, verified',
  usage: 'ownlm export --model DIR --out PATH [--format gguf|hf] [--dtype TYPE] [options]',
  about: `Exports a model folder (a training checkpoint, \`ownlm import\` output or a Hugging Face Llama folder).
A GGUF is checked in llama.cpp before it is written: the golden texts must tokenize to the same ids and the
golden prompts must continue greedily with the engine's tokens (32 for f32/f16/bf16, 8 for q8_0/q4_0).
Any difference refuses the export and names the prompt and token; nothing is left at --out.`,
  options: {
    model: { kind: 'string', required: true, placeholder: 'DIR', help: 'model folder' },
    out: {
      kind: 'string',
      required: true,
      placeholder: 'PATH',
      help: '.gguf file, or a folder with --format hf',
    },
    format: {
      kind: 'string',
      default: 'gguf',
      placeholder: 'F',
      rule: oneOf(['gguf', 'hf']),
      help: 'gguf or hf',
    },
    dtype: {
      kind: 'string',
      placeholder: 'T',
      defaultHelp: 'f16 for gguf, f32 for hf',
      help: 'gguf: f32, f16, bf16, q8_0, q4_0; hf: f32, f16, bf16',
    },
    prompt: {
      kind: 'strings',
      repeatable: true,
      placeholder: 'TEXT',
      help: 'a golden prompt to check besides the built-in ones',
    },
    tokens: {
      kind: 'integer',
      rule: positiveInteger,
      defaultHelp: '32, or 8 when quantized',
      help: 'greedy tokens compared per prompt',
    },
    name: {
      kind: 'string',
      placeholder: 'TEXT',
      defaultHelp: "the model folder's name",
      help: 'general.name of the GGUF',
    },
    no_verify: { kind: 'boolean', help: 'skip the checks (not recommended)' },
    force: { kind: 'boolean', help: 'replace an existing --out' },
    events: eventsOption('artifact-written and export-done events'),
  },
  async run({ values }) {
    const format = values.format as ExportFormat;
    const report = await exportModel({
      model: values.model,
      out: values.out,
      format,
      dtype: (values.dtype ?? (format === 'hf' ? 'f32' : 'f16')) as 'f32',
      prompts: values.prompt,
      tokens: values.tokens,
      name: values.name,
      verify: !values.no_verify,
      overwrite: values.force,
    });
    // With events on stdout, the human summary goes to stderr.
    const say = values.events === '-' ? console.error : console.log;
    const mb = (report.bytes / 1e6).toFixed(1);
    say(`wrote ${report.out} (${mb} MB) in ${report.writeSeconds.toFixed(1)} s`);
    if (values.no_verify) say('not verified (--no-verify)');
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
      verified: !values.no_verify,
    });
    await events.close();
    return 0;
  },
});
