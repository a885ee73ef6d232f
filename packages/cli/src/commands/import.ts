// `ownlm import`: a Hugging Face Llama folder or a llama GGUF into an ownlm model folder (Hugging Face layout)
// that `ownlm sample`, `ownlm eval`, fine-tuning and `ownlm export` read.
import { parseArgs } from 'node:util';
import { importModel } from '@ownlm/studio';
import type { Command } from '../command.ts';

const usage = `usage: ownlm import --from PATH --out DIR [options]

Imports a Hugging Face Llama-family folder (config.json, safetensors in F32/F16/BF16, sharded or not,
tokenizer.json) or a llama GGUF (F32, F16, BF16, Q8_0, Q4_0; dequantized) into a model folder, then loads it
back to check it.

options:
  --from PATH          Hugging Face folder or .gguf file (required)
  --out DIR            model folder to write (required)
  --dtype T            weights in the folder: f32 (default), f16, bf16
  --force              replace a non-empty --out
  -h, --help           show this help`;

export const command: Command = {
  summary: 'import a Hugging Face Llama folder or a GGUF as a model folder',
  async run(argv) {
    const { values } = parseArgs({
      args: argv,
      options: {
        from: { type: 'string' },
        out: { type: 'string' },
        dtype: { type: 'string', default: 'f32' },
        force: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    });
    if (values.help) {
      console.log(usage);
      return 0;
    }
    if (!values.from || !values.out) {
      console.error(usage);
      return 2;
    }
    if (!['f32', 'f16', 'bf16'].includes(values.dtype!))
      throw new Error(`--dtype must be f32, f16 or bf16, got '${values.dtype}'`);
    const { config } = importModel({
      from: values.from,
      out: values.out,
      dtype: values.dtype as 'f32',
      overwrite: values.force,
    });
    console.log(
      `imported ${values.from} → ${values.out}: ${config.num_hidden_layers} layers, hidden ${config.hidden_size}, vocabulary ${config.vocab_size}`,
    );
    return 0;
  },
};
