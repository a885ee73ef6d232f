// The models the llama.cpp runtime holds in memory: a model loads on first use and is unloaded least recently used
// when the memory budget would be exceeded; a model in use is never unloaded. Each loaded model has one context of
// `parallelSequences` sequences (batched together by node-llama-cpp) behind a bounded queue, its chat template,
// and, once asked for, an embedding context counted against the same budget.
import { availableParallelism, totalmem } from 'node:os';
import { loadLlamaCpp } from '@ownlm/studio';
import {
  JinjaTemplateChatWrapper,
  type ChatWrapper,
  type LlamaContext,
  type LlamaContextSequence,
  type LlamaEmbeddingContext,
  type LlamaModel,
} from 'node-llama-cpp';
import { AppError } from '../errors.ts';
import {
  inspectAdapterFile,
  inspectedOnce,
  inspectModelFile,
  residentBytes,
  type AdapterFile,
  type ModelFile,
} from './model-file.ts';
import type { ModelInfo } from './runtime.ts';
import { SlotPool } from './slot-pool.ts';

export interface ModelCacheOptions {
  /**
   * The registry's file for a model id; null when there is no such model. An adapter version resolves to its
   * base model's file and the adapter's, applied with llama.cpp's run-time LoRA (no merged copy is made).
   */
  resolveModel(modelId: string): Promise<{ path: string; adapterPath?: string } | null>;
  /** Loaded models (file size plus context estimate) stay under this; default half of the machine's memory. */
  memoryBudgetBytes?: number;
  /** Generations one model runs at once (sequences of its context); default 4. */
  parallelSequences?: number;
  /** Requests that wait for a sequence, per model, before `overloaded`; default 64. */
  maxQueue?: number;
  /** llama.cpp threads per context; default one core less than the machine has (at least 1). */
  threads?: number;
  /** Positions per sequence: the model's trained context, capped at this; default 4096. */
  contextSize?: number;
}

/**
 * Threads: on the 2-core machine one llama.cpp thread generates faster than two (`small` preset 326 against
 * 134 tokens/s, `base` 95 against 80; only prompt evaluation gains, 34 against 19 ms for 20 tokens), because
 * llama.cpp's threads spin while waiting and Node's event loop needs the other core; so a core is left free.
 */
export const defaultThreads = (): number => Math.max(1, availableParallelism() - 1);

export interface LoadedModel {
  file: ModelFile;
  adapter: AdapterFile | null;
  model: LlamaModel;
  context: LlamaContext;
  contextSize: number;
  pool: SlotPool<LlamaContextSequence>;
  /** The model's own chat template; null when the file has none (chat is then refused, never guessed). */
  chatWrapper: ChatWrapper | null;
  embedding: Promise<LlamaEmbeddingContext> | null;
  /** Embedding calls run one at a time on the embedding context. */
  embeddingQueue: Promise<unknown>;
}

/** A model's place in the cache, from the first request that needs it until it is unloaded. */
interface Entry {
  id: string;
  /** Reserved against the budget once the file is inspected. */
  bytes: number;
  loaded: Promise<LoadedModel>;
  /** Set once `loaded` has resolved; only then can the entry be evicted. */
  ready: LoadedModel | null;
  /** Requests holding the model; an entry in use is never evicted. */
  users: number;
  lastUsed: number;
  /** Aborted by unload: running generations end as `cancelled`. */
  unloading: AbortController;
  /** Settles once the model's memory is released. */
  unloaded: Promise<void> | null;
  /** Called when the last user releases the model. */
  idle: (() => void) | null;
}

/** A loaded model held by one request: it stays loaded until `release`. */
export interface Lease {
  model: LoadedModel;
  /** Aborted when the model is being unloaded: the holder should stop and release it. */
  unloading: AbortSignal;
  /** The model's embedding context, created (and counted against the budget) on first use. */
  embeddingContext(): Promise<LlamaEmbeddingContext>;
  release(): void;
}

export interface ModelCache {
  /** Holds the model loaded (loading it if needed) until release. */
  lease(modelId: string): Promise<Lease>;
  /** Runs `use` while holding the model. */
  withModel<T>(modelId: string, use: (held: Lease) => Promise<T>): Promise<T>;
  info(modelId: string): Promise<ModelInfo>;
  /** The model's file, validated, without loading it (an adapter version's is its base's). */
  file(modelId: string): Promise<ModelFile>;
  /** Ids of the models held in memory, least recently used first. */
  loadedModels(): string[];
  unload(modelId: string): Promise<void>;
  /** Unloads every model and refuses new requests. */
  close(): Promise<void>;
}

const MB = 2 ** 20;
const mb = (bytes: number) => `${Math.ceil(bytes / MB)} MB`;

/** The model's own template; null when the file has none. */
function chatWrapperFor(file: ModelFile, model: LlamaModel): ChatWrapper | null {
  if (file.chatTemplate === null) return null;
  try {
    // reasoning null leaves the template's own default for enable_thinking.
    return new JinjaTemplateChatWrapper({
      template: file.chatTemplate,
      reasoning: null,
      tokenizer: model.tokenizer,
    });
  } catch (error) {
    throw new AppError(
      'server_error',
      `model file ${file.path}: its chat template (tokenizer.chat_template) cannot be rendered: ` +
        `${(error as Error).message}`,
    );
  }
}

export function createModelCache(options: ModelCacheOptions): ModelCache {
  const budget = options.memoryBudgetBytes ?? Math.floor(totalmem() / 2);
  const sequences = options.parallelSequences ?? 4;
  const maxQueue = options.maxQueue ?? 64;
  const threads = options.threads ?? defaultThreads();
  const contextCap = options.contextSize ?? 4096;
  const entries = new Map<string, Entry>();
  let closed = false;
  // Every generation asks for its model's info, loaded or not: a header is parsed once per file, not per request.
  const modelFile = inspectedOnce(inspectModelFile);
  const adapterFile = inspectedOnce(inspectAdapterFile);

  async function resolveFile(modelId: string): Promise<{ file: ModelFile; adapter: AdapterFile | null }> {
    const resolved = await options.resolveModel(modelId);
    if (resolved === null)
      throw new AppError(
        'model_not_found',
        `model '${modelId}' not found; list the models with GET /v1/models`,
        'model',
      );
    const file = modelFile(resolved.path);
    if (resolved.adapterPath === undefined) return { file, adapter: null };
    const adapter = adapterFile(resolved.adapterPath);
    if (adapter.architecture !== file.architecture)
      throw new AppError(
        'server_error',
        `adapter file ${adapter.path} is for '${adapter.architecture}' models but its base ${file.path} is ` +
          `'${file.architecture}'; register the adapter with the base it was trained on`,
      );
    return { file, adapter };
  }

  const contextSizeOf = (file: ModelFile) => Math.min(file.trainContextLength, contextCap);

  async function fileOf(modelId: string): Promise<ModelFile> {
    return entries.get(modelId)?.ready?.file ?? (await resolveFile(modelId)).file;
  }

  /** Unloads idle models, least recently used first, until the entry's bytes fit the budget. */
  async function makeRoom(entry: Entry): Promise<void> {
    if (entry.bytes > budget)
      throw new AppError(
        'server_error',
        `model '${entry.id}' needs about ${mb(entry.bytes)} (file and context), more than the memory budget of ` +
          `${mb(budget)}; raise the budget or lower the context size`,
      );
    const used = () => [...entries.values()].reduce((sum, e) => sum + (e === entry ? 0 : e.bytes), 0);
    while (used() + entry.bytes > budget) {
      const idle = [...entries.values()]
        .filter((e) => e !== entry && e.ready !== null && e.users === 0)
        .sort((a, b) => a.lastUsed - b.lastUsed);
      if (idle.length === 0)
        throw new AppError(
          'overloaded',
          `model '${entry.id}' needs about ${mb(entry.bytes)} but the memory budget of ${mb(budget)} is held by ` +
            'models in use; retry shortly',
        );
      await unloadEntry(idle[0]);
    }
  }

  async function load(entry: Entry): Promise<LoadedModel> {
    const { file, adapter } = await resolveFile(entry.id);
    const contextSize = contextSizeOf(file);
    // An adapter version opens the base file again (llama.cpp keeps loaded adapters with the model). The file is
    // memory-mapped, so its pages are shared with a loaded base; the budget still counts them for each entry.
    entry.bytes = residentBytes(file, contextSize, sequences) + (adapter?.bytes ?? 0);
    await makeRoom(entry);
    const llama = await loadLlamaCpp();
    let model: LlamaModel;
    try {
      model = await llama.loadModel({ modelPath: file.path, gpuLayers: 0 });
    } catch (error) {
      throw new AppError(
        'server_error',
        `llama.cpp could not load model file ${file.path}: ${(error as Error).message}`,
      );
    }
    try {
      const context = await model.createContext({
        contextSize,
        sequences,
        threads,
        lora: adapter ? { adapters: [{ filePath: adapter.path, scale: 1 }] } : undefined,
      });
      const slots = Array.from({ length: sequences }, () => context.getSequence());
      return {
        file,
        adapter,
        model,
        context,
        contextSize,
        pool: new SlotPool(slots, maxQueue, `model '${entry.id}'`),
        chatWrapper: chatWrapperFor(file, model),
        embedding: null,
        embeddingQueue: Promise.resolve(),
      };
    } catch (error) {
      await model.dispose();
      if (adapter && !(error instanceof AppError))
        throw new AppError(
          'server_error',
          `llama.cpp could not apply adapter ${adapter.path} to ${file.path}: ${(error as Error).message}`,
        );
      throw error;
    }
  }

  function newEntry(id: string): Entry {
    const entry: Entry = {
      id,
      bytes: 0,
      loaded: Promise.resolve().then(() => load(entry)),
      ready: null,
      users: 0,
      lastUsed: performance.now(),
      unloading: new AbortController(),
      unloaded: null,
      idle: null,
    };
    entry.loaded.then(
      (model) => (entry.ready = model),
      () => {
        if (entries.get(id) === entry) entries.delete(id);
      },
    );
    return entry;
  }

  async function lease(modelId: string): Promise<Lease> {
    for (;;) {
      if (closed)
        throw new AppError('overloaded', 'the inference runtime is shutting down; retry on the new server');
      let entry = entries.get(modelId);
      if (!entry) {
        entry = newEntry(modelId);
        entries.set(modelId, entry);
      }
      const model = await entry.loaded;
      // Evicted or unloaded while this request waited: load it again.
      if (entries.get(modelId) !== entry) continue;
      const held = entry;
      held.users++;
      held.lastUsed = performance.now();
      return {
        model,
        unloading: held.unloading.signal,
        embeddingContext: () => embeddingContext(held, model),
        release() {
          held.users--;
          held.lastUsed = performance.now();
          if (held.users === 0) held.idle?.();
        },
      };
    }
  }

  function embeddingContext(entry: Entry, loaded: LoadedModel): Promise<LlamaEmbeddingContext> {
    if (!loaded.embedding) {
      // Counted against the budget from now on (a second context, one sequence).
      const bytes = residentBytes(loaded.file, loaded.contextSize, 1) - loaded.file.bytes;
      entry.bytes += bytes;
      loaded.embedding = loaded.model.createEmbeddingContext({ contextSize: loaded.contextSize, threads });
      loaded.embedding.catch(() => {
        entry.bytes -= bytes;
        loaded.embedding = null;
      });
    }
    return loaded.embedding;
  }

  function unloadEntry(entry: Entry): Promise<void> {
    if (entries.get(entry.id) === entry) entries.delete(entry.id);
    entry.unloaded ??= (async () => {
      entry.unloading.abort();
      const model = await entry.loaded.catch(() => null);
      if (!model) return;
      model.pool.rejectQueued(new AppError('overloaded', `model '${entry.id}' was unloaded; retry`));
      if (entry.users > 0) await new Promise<void>((resolve) => (entry.idle = resolve));
      const embedding = await model.embedding?.catch(() => null);
      await embedding?.dispose();
      await model.context.dispose();
      await model.model.dispose();
    })();
    return entry.unloaded;
  }

  return {
    lease,

    async withModel(modelId, use) {
      const held = await lease(modelId);
      try {
        return await use(held);
      } finally {
        held.release();
      }
    },

    file: fileOf,

    async info(modelId) {
      const file = await fileOf(modelId);
      return {
        contextLength: contextSizeOf(file),
        maxTokenBytes: file.maxTokenBytes,
        chatTemplate: file.chatTemplate,
        embeddingSize: file.embeddingSize,
        parameterCount: file.parameterCount,
      };
    },

    loadedModels() {
      return [...entries.values()]
        .filter((e) => e.ready !== null)
        .sort((a, b) => a.lastUsed - b.lastUsed)
        .map((e) => e.id);
    },

    async unload(modelId) {
      const entry = entries.get(modelId);
      if (entry) await unloadEntry(entry);
    },

    async close() {
      closed = true;
      await Promise.all([...entries.values()].map(unloadEntry));
    },
  };
}
