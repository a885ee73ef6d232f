// `ownlm import`: a Hugging Face Llama folder or a llama GGUF into an ownlm model folder (Hugging Face layout)
// that `ownlm sample`, `ownlm eval`, fine-tuning and `ownlm export` read.
import { importModel, oneOf } from '@ownlm/studio';
import { defineCommand } from '../command.ts';

export const command = defineCommand({
  name: 'import',
  summary: 'import a Hugging Face Llama folder or a GGUF as a model folder',
  usage: 'ownlm import --from PATH --out DIR [options]',
  about: `Imports a Hugging Face Llama-family folder (config.json, safetensors in F32/F16/BF16, sharded or not,
tokenizer.json) or a llama GGUF (F32, F16, BF16, Q8_0, Q4_0; dequantized) into a model folder, then loads it
back to check it.`,
  options: {
    from: { kind: 'string', required: true, placeholder: 'PATH', help: 'Hugging Face folder or .gguf file' },
    out: { kind: 'string', required: true, placeholder: 'DIR', help: 'model folder to write' },
    dtype: {
      kind: 'string',
      default: 'f32',
      placeholder: 'T',
      rule: oneOf(['f32', 'f16', 'bf16']),
      help: 'weights in the folder: f32, f16 or bf16',
    },
    force: { kind: 'boolean', help: 'replace a non-empty --out' },
  },
  async run({ values }) {
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
});
