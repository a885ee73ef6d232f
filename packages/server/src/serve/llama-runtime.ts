// The local Runtime: GGUF models in llama.cpp through node-llama-cpp, in this process. Which models are in memory
// is ./llama-models.ts (loading, least-recently-used unloading under the memory budget); chat and completion are
// ./llama-generation.ts (prompts, slots, grammars, stop strings, streaming); embeddings and tokenization are here,
// tokenization (of embedding inputs too) in the tokenizer process (./tokenizer-process.ts).
import type { Token } from 'node-llama-cpp';
import { AppError } from '../errors.ts';
import { createLlamaGeneration } from './llama-generation.ts';
import { createModelCache, type ModelCacheOptions } from './llama-models.ts';
import type { Runtime } from './runtime.ts';
import { TokenizerProcess } from './tokenizer-process.ts';

export type LlamaRuntimeOptions = ModelCacheOptions;

export interface LlamaRuntime extends Runtime {
  /** Ids of the models held in memory, least recently used first. */
  loadedModels(): string[];
}

const noop = () => {};

/** The Runtime over llama.cpp. */
export function createLlamaRuntime(options: LlamaRuntimeOptions): LlamaRuntime {
  const models = createModelCache(options);
  const tokenizer = new TokenizerProcess();
  const { chat, complete } = createLlamaGeneration(models, tokenizer);
  return {
    chat,
    complete,

    embed(modelId, inputs) {
      return models.withModel(modelId, async (held) => {
        const context = await held.embeddingContext();
        const { contextSize, file } = held.model;
        const tooLong = (index: number, size: string, fits = '') =>
          new AppError(
            'context_length_exceeded',
            `input ${index} is ${size}; model '${modelId}' embeds at most ${contextSize - 1} tokens${fits}`,
            'input',
          );
        // No token stands for more than maxTokenBytes bytes, so a longer input cannot fit: it is refused before
        // it takes the tokenizer process's time.
        const byteLimit = contextSize * file.maxTokenBytes;
        for (const [index, input] of inputs.entries()) {
          const bytes = Buffer.byteLength(input);
          if (bytes > byteLimit)
            throw tooLong(index, `${bytes} bytes`, `, which hold at most ${byteLimit} bytes of text`);
        }
        // Tokenized in the tokenizer process, once: node-llama-cpp tokenizes a string on this thread.
        const tokenized: Token[][] = [];
        let promptTokens = 0;
        for (const [index, input] of inputs.entries()) {
          const tokens = (await tokenizer.tokenize(file.path, { text: input, special: false })) as Token[];
          const length = context.calculateInputLength(tokens);
          if (length >= contextSize) throw tooLong(index, `${length} tokens`);
          tokenized.push(tokens);
          promptTokens += length;
        }
        const run = held.model.embeddingQueue.then(async () => {
          const vectors: Float32Array[] = [];
          for (const tokens of tokenized)
            vectors.push(Float32Array.from((await context.getEmbeddingFor(tokens)).vector));
          return vectors;
        });
        held.model.embeddingQueue = run.catch(noop);
        return { vectors: await run, promptTokens };
      });
    },

    // The vocabulary is all these need: the model is not loaded for them.
    async tokenize(modelId, text) {
      // Plain text: special-token markup in it is not turned into control tokens.
      return tokenizer.tokenize((await models.file(modelId)).path, { text, special: false });
    },

    async countTokens(modelId, texts) {
      return tokenizer.count((await models.file(modelId)).path, texts);
    },

    info: (modelId) => models.info(modelId),
    loadedModels: () => models.loadedModels(),
    unload: (modelId) => models.unload(modelId),
    async close() {
      await Promise.all([models.close(), tokenizer.close()]);
    },
  };
}
