// Model folders into the engine, and other models into model folders. A model folder is the Hugging Face
// layout (config.json, model.safetensors or shards, tokenizer files); a training checkpoint is one too (its
// trainer-state.json stands in for config.json). `importModel` turns a Hugging Face Llama folder or a llama
// GGUF into such a folder, checked by loading it back.
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LlamaModel, type LlamaConfig } from '@ownlm/engine';
import { FormatError } from '../formats/errors.ts';
import { readLlamaGguf, type HfTensor } from '../formats/gguf-llama.ts';
import { writeGgufTokenizerFiles } from '../formats/gguf-tokenizer.ts';
import { readHfWeights, readModelConfig, writeHfFolder, type HfDtype } from '../formats/hf-folder.ts';
import { Tokenizer } from '../tokenizer/tokenizer.ts';

export interface LoadedModel {
  model: LlamaModel;
  tokenizer: Tokenizer;
  config: LlamaConfig;
}

/** An engine model holding the given weights (Hugging Face names; shapes already checked). */
export function modelFromTensors(config: LlamaConfig, tensors: ReadonlyMap<string, HfTensor>): LlamaModel {
  const model = new LlamaModel(config);
  for (const [name, parameter] of model.parameters) parameter.data.set(tensors.get(name)!.data);
  return model;
}

/** Loads a model folder (an `ownlm import` output, a training checkpoint or a Hugging Face Llama folder). */
export function loadModelFolder(dir: string): LoadedModel {
  if (!existsSync(dir)) throw new FormatError('not-found', dir, '', 'no such folder');
  const config = readModelConfig(dir);
  const tokenizer = Tokenizer.fromFile(dir);
  if (tokenizer.vocabSize > config.vocab_size) {
    throw new FormatError(
      'invalid',
      join(dir, 'tokenizer.json'),
      'model.vocab',
      `${tokenizer.vocabSize} tokens do not fit the model's vocab_size ${config.vocab_size}`,
    );
  }
  return { model: modelFromTensors(config, readHfWeights(dir, config)), tokenizer, config };
}

export interface ImportOptions {
  /** A Hugging Face Llama folder or a llama GGUF file. */
  from: string;
  out: string;
  /** Weights dtype of the folder written (default f32). */
  dtype?: HfDtype;
  overwrite?: boolean;
}

/** Imports a model into an ownlm model folder and loads it back; returns the loaded model. */
export function importModel(options: ImportOptions): LoadedModel {
  if (!existsSync(options.from))
    throw new FormatError('not-found', options.from, '', 'no such file or folder');
  let config: LlamaConfig;
  let tensors: Map<string, HfTensor>;
  let tokenizerDir = options.from;
  let scratch: string | null = null;
  try {
    if (statSync(options.from).isDirectory()) {
      config = readModelConfig(options.from);
      tensors = readHfWeights(options.from, config);
    } else {
      const gguf = readLlamaGguf(options.from);
      ({ config, tensors } = gguf);
      scratch = mkdtempSync(join(tmpdir(), 'ownlm-import-'));
      writeGgufTokenizerFiles(gguf.header, scratch);
      tokenizerDir = scratch;
    }
    writeHfFolder(options.out, {
      config,
      tensors,
      tokenizerDir,
      dtype: options.dtype,
      overwrite: options.overwrite,
    });
  } finally {
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  }
  return loadModelFolder(options.out);
}
