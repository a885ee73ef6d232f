// The local Runtime: GGUF models in llama.cpp through node-llama-cpp, in this process. Models load on first
// use and are unloaded least-recently-used when the memory budget would be exceeded; each loaded model has
// one context of `parallelSequences` sequences (batched together by node-llama-cpp) and a bounded queue.
//
// Off the event loop: node-llama-cpp runs decoding and sampling in native async workers; the event loop only
// does per-token bookkeeping. Measured on the 2-core machine (monitorEventLoopDelay, 1 ms resolution; idle p99
// 1.2 ms) while generating 128 tokens with the `small` and `base` presets (Q8_0), 1 and 4 streams at once:
// loop delay p99 3.0-3.9 ms, max 8 ms; the loop is busy 0.3-1.0 ms per token. Rendering and tokenizing a
// 4,000-token chat takes 6 ms once per request. So models stay in this process; a worker thread per model
// would add a copy of every token across threads to save about a millisecond per token.
import { randomInt } from 'node:crypto';
import { availableParallelism, totalmem } from 'node:os';
import {
  getLlama,
  JinjaTemplateChatWrapper,
  LlamaGrammarEvaluationState,
  LlamaLogLevel,
  LlamaText,
  type ChatHistoryItem,
  type ChatWrapper,
  type GbnfJsonSchema,
  type Llama,
  type LlamaContext,
  type LlamaContextSequence,
  type LlamaEmbeddingContext,
  type LlamaGrammar,
  type LlamaModel,
  type Token,
} from 'node-llama-cpp';
import { AppError } from '../errors.ts';
import {
  inspectAdapterFile,
  inspectModelFile,
  residentBytes,
  type AdapterFile,
  type ModelFile,
} from './model-file.ts';
import type {
  FinishReason,
  GenerationEvent,
  GenerationOptions,
  ModelInfo,
  Runtime,
  RuntimeMessage,
} from './runtime.ts';
import { SlotPool } from './slot-pool.ts';
import { StopStringFilter } from './stop-strings.ts';

export interface LlamaRuntimeOptions {
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

let sharedLlama: Promise<Llama> | null = null;

/** The CPU llama.cpp, loaded once per process; nothing is downloaded or compiled at run time. */
function loadLlama(): Promise<Llama> {
  sharedLlama ??= getLlama({
    gpu: false,
    build: 'never',
    skipDownload: true,
    progressLogs: false,
    logLevel: LlamaLogLevel.error,
  });
  return sharedLlama;
}

interface LoadedModel {
  file: ModelFile;
  adapter: AdapterFile | null;
  model: LlamaModel;
  context: LlamaContext;
  contextSize: number;
  pool: SlotPool<LlamaContextSequence>;
  chatWrapper: ChatWrapper | null;
  embedding: Promise<LlamaEmbeddingContext> | null;
  /** Embedding calls run one at a time on the embedding context. */
  embeddingQueue: Promise<unknown>;
}

/** A model's place in the runtime, from the first request that needs it until it is unloaded. */
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

interface Lease {
  entry: Entry;
  model: LoadedModel;
  release(): void;
}

const MB = 2 ** 20;
const mb = (bytes: number) => `${Math.ceil(bytes / MB)} MB`;
const noop = () => {};

function commonPrefixLength(a: readonly Token[], b: readonly Token[]): number {
  let n = 0;
  while (n < a.length && n < b.length && a[n] === b[n]) n++;
  return n;
}

/** The texts after which a grammar's output is complete (llama.cpp's JSON grammars end in newlines). */
function grammarStops(grammar: LlamaGrammar): string[] {
  return grammar.stopGenerationTriggers.flatMap((t) =>
    typeof t === 'string' ? [t] : LlamaText.isLlamaText(t) ? [t.toString()] : [],
  );
}

function chatHistory(messages: RuntimeMessage[]): ChatHistoryItem[] {
  const history: ChatHistoryItem[] = messages.map((m) =>
    m.role === 'system'
      ? { type: 'system', text: m.content }
      : m.role === 'user'
        ? { type: 'user', text: m.content }
        : { type: 'model', response: [m.content] },
  );
  // The empty model turn makes the template end with the assistant header; after an assistant message, the
  // wrapper joins the two, so that message is continued.
  history.push({ type: 'model', response: [] });
  return history;
}

export interface LlamaRuntime extends Runtime {
  /** Ids of the models held in memory, least recently used first. */
  loadedModels(): string[];
}

/** The Runtime over llama.cpp. */
export function createLlamaRuntime(options: LlamaRuntimeOptions): LlamaRuntime {
  const budget = options.memoryBudgetBytes ?? Math.floor(totalmem() / 2);
  const sequences = options.parallelSequences ?? 4;
  const maxQueue = options.maxQueue ?? 64;
  const threads = options.threads ?? defaultThreads();
  const contextCap = options.contextSize ?? 4096;
  const entries = new Map<string, Entry>();
  const schemaGrammars = new Map<string, Promise<LlamaGrammar>>();
  let jsonGrammar: Promise<LlamaGrammar> | null = null;
  let closed = false;

  async function resolveFile(modelId: string): Promise<{ file: ModelFile; adapter: AdapterFile | null }> {
    const resolved = await options.resolveModel(modelId);
    if (resolved === null)
      throw new AppError(
        'model_not_found',
        `model '${modelId}' not found; list the models with GET /v1/models`,
        'model',
      );
    const file = inspectModelFile(resolved.path);
    if (resolved.adapterPath === undefined) return { file, adapter: null };
    const adapter = inspectAdapterFile(resolved.adapterPath);
    if (adapter.architecture !== file.architecture)
      throw new AppError(
        'server_error',
        `adapter file ${adapter.path} is for '${adapter.architecture}' models but its base ${file.path} is ` +
          `'${file.architecture}'; register the adapter with the base it was trained on`,
      );
    return { file, adapter };
  }

  const contextSizeOf = (file: ModelFile) => Math.min(file.trainContextLength, contextCap);

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
    const llama = await loadLlama();
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

  /** The model's own template; null when the file has none (chat is then refused, never guessed). */
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

  /** Holds the model loaded (loading it if needed) until release. */
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
        entry: held,
        model,
        release() {
          held.users--;
          held.lastUsed = performance.now();
          if (held.users === 0) held.idle?.();
        },
      };
    }
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

  async function grammarFor(format: GenerationOptions['responseFormat']): Promise<LlamaGrammar | undefined> {
    if (!format) return undefined;
    const llama = await loadLlama();
    if (format.type === 'json_object') return (jsonGrammar ??= llama.getGrammarFor('json'));
    const key = JSON.stringify(format.schema);
    let grammar = schemaGrammars.get(key);
    if (!grammar) {
      grammar = llama.createGrammarForJsonSchema<GbnfJsonSchema>(format.schema as GbnfJsonSchema);
      schemaGrammars.set(key, grammar);
      grammar.catch(() => schemaGrammars.delete(key));
      // A few schemas in turn are common; an unbounded map would grow with every client's schema.
      if (schemaGrammars.size > 64) schemaGrammars.delete(schemaGrammars.keys().next().value!);
    }
    try {
      return await grammar;
    } catch (error) {
      throw new AppError(
        'invalid_request',
        `response_format.json_schema cannot be turned into a grammar: ${(error as Error).message}`,
        'response_format',
      );
    }
  }

  /** llama.cpp's rule (docs/FORMATS.md#chat-template-rendering): exactly one BOS first if the vocabulary asks. */
  function withBos(model: LlamaModel, tokens: Token[]): Token[] {
    const bos = model.tokens.bos;
    if (model.tokens.shouldPrependBosToken && bos !== null && tokens[0] !== bos) return [bos, ...tokens];
    return tokens;
  }

  interface Prompt {
    tokens: Token[];
    /** End-of-turn markers of the template besides llama.cpp's end-of-generation tokens. */
    endTokens: Set<Token>;
    endStrings: string[];
  }

  function chatPrompt(modelId: string, loaded: LoadedModel, messages: RuntimeMessage[]): Prompt {
    const { model, chatWrapper } = loaded;
    if (!chatWrapper)
      throw new AppError(
        'not_supported',
        `model '${modelId}' has no chat template in its GGUF (tokenizer.chat_template); use /v1/completions, ` +
          'or export it with a tokenizer that has one',
      );
    const state = chatWrapper.generateContextState({ chatHistory: chatHistory(messages) });
    // Message text is tokenized as plain text and the template's own markup with special tokens, so a message
    // cannot forge a turn.
    const tokens = withBos(model, state.contextText.tokenize(model.tokenizer));
    const endTokens = new Set<Token>();
    const endStrings: string[] = [];
    for (const trigger of state.stopGenerationTriggers) {
      const triggerTokens = trigger.tokenize(model.tokenizer);
      if (triggerTokens.length === 0) continue;
      if (model.isSpecialToken(triggerTokens[0])) endTokens.add(triggerTokens[0]);
      else endStrings.push(model.detokenize(triggerTokens, true));
    }
    return { tokens, endTokens, endStrings };
  }

  async function* generate(
    modelId: string,
    options: GenerationOptions,
    prompt: (loaded: LoadedModel) => Prompt,
  ): AsyncGenerator<GenerationEvent> {
    if (options.signal.aborted) {
      yield { type: 'finish', finishReason: 'cancelled', usage: { promptTokens: 0, completionTokens: 0 } };
      return;
    }
    const held = await lease(modelId);
    let sequence: LlamaContextSequence | null = null;
    let inFlight: Promise<IteratorResult<Token>> | null = null;
    let iterator: AsyncIterator<Token> | null = null;
    try {
      const { model, pool, contextSize } = held.model;
      const { tokens, endTokens, endStrings } = prompt(held.model);
      if (tokens.length >= contextSize)
        throw new AppError(
          'context_length_exceeded',
          `the prompt is ${tokens.length} tokens; model '${modelId}' is served with a context of ${contextSize} ` +
            'tokens for prompt and completion together; shorten the messages',
          'messages',
        );
      const grammar = await grammarFor(options.responseFormat);
      const signal = AbortSignal.any([options.signal, held.entry.unloading.signal]);
      const usage = { promptTokens: tokens.length, completionTokens: 0 };
      sequence = await pool.acquire(signal, (s) => commonPrefixLength(s.contextTokens, tokens));
      if (!sequence) {
        yield { type: 'finish', finishReason: 'cancelled', usage };
        return;
      }
      // Keep what the sequence already holds of this prompt (a chat's earlier turns); evaluate the rest.
      await sequence.adaptStateToTokens(tokens.slice(0, -1), false);
      const maxTokens = Math.min(options.maxTokens, contextSize - tokens.length);
      const stops = new StopStringFilter(
        [...options.stop, ...endStrings, ...(grammar ? grammarStops(grammar) : [])],
        grammar?.trimWhitespaceSuffix,
      );
      iterator = sequence
        .evaluate(tokens.slice(sequence.nextTokenIndex), {
          temperature: options.temperature,
          topP: options.topP,
          topK: 0,
          minP: 0,
          seed: options.seed ?? randomInt(2 ** 31),
          grammarEvaluationState: grammar ? new LlamaGrammarEvaluationState({ model, grammar }) : undefined,
          yieldEogToken: true,
        })
        [Symbol.asyncIterator]();
      const aborted = new Promise<'aborted'>((resolve) => {
        if (signal.aborted) resolve('aborted');
        signal.addEventListener('abort', () => resolve('aborted'), { once: true });
      });
      const recent: Token[] = [];
      const undecoded: Token[] = [];
      let finishReason: FinishReason = 'length';
      while (usage.completionTokens < maxTokens) {
        inFlight = iterator.next();
        // A long prompt is one native call; racing it lets cancellation answer before the batch ends.
        const next = await Promise.race([inFlight, aborted]);
        if (next === 'aborted') {
          finishReason = 'cancelled';
          break;
        }
        inFlight = null;
        if (next.done) break;
        const token = next.value as Token;
        if (model.isEogToken(token) || endTokens.has(token)) {
          finishReason = 'stop';
          break;
        }
        usage.completionTokens++;
        undecoded.push(token);
        let text = model.detokenize(undecoded, false, recent);
        // A character split across tokens decodes to U+FFFD until its last byte arrives (at most 4 bytes).
        if (text.endsWith('\uFFFD') && undecoded.length < 4 && usage.completionTokens < maxTokens) continue;
        recent.push(...undecoded.splice(0));
        if (recent.length > 16) recent.splice(0, recent.length - 16);
        const piece = stops.push(text);
        text = piece.text;
        if (text) yield { type: 'text-delta', text };
        if (piece.stopped) {
          finishReason = 'stop';
          break;
        }
      }
      if (finishReason !== 'cancelled') {
        const rest = stops.flush();
        if (rest) yield { type: 'text-delta', text: rest };
      }
      yield { type: 'finish', finishReason, usage };
    } finally {
      const slot = sequence;
      const evaluation = iterator;
      const giveBack = async () => {
        await evaluation?.return?.()?.catch(noop);
        if (slot) held.model.pool.release(slot);
        held.release();
      };
      // After a cancellation llama.cpp may still be evaluating a batch: the stream ends now, and the slot and
      // the model are given back once that batch is done.
      if (inFlight) void inFlight.catch(noop).then(giveBack);
      else await giveBack();
    }
  }

  async function withModel<T>(modelId: string, use: (held: Lease) => Promise<T>): Promise<T> {
    const held = await lease(modelId);
    try {
      return await use(held);
    } finally {
      held.release();
    }
  }

  return {
    chat(modelId, messages, generationOptions) {
      return generate(modelId, generationOptions, (loaded) => chatPrompt(modelId, loaded, messages));
    },

    complete(modelId, text, generationOptions) {
      // Special-token text in a raw prompt is parsed, as llama.cpp's server does: the caller writes the format.
      return generate(modelId, generationOptions, ({ model }) => ({
        tokens: withBos(model, model.tokenize(text, true)),
        endTokens: new Set(),
        endStrings: [],
      }));
    },

    embed(modelId, inputs) {
      return withModel(modelId, async ({ entry, model: loaded }) => {
        if (!loaded.embedding) {
          // Counted against the budget from now on (a second context, one sequence).
          const bytes = residentBytes(loaded.file, loaded.contextSize, 1) - loaded.file.bytes;
          entry.bytes += bytes;
          loaded.embedding = loaded.model.createEmbeddingContext({
            contextSize: loaded.contextSize,
            threads,
          });
          loaded.embedding.catch(() => {
            entry.bytes -= bytes;
            loaded.embedding = null;
          });
        }
        const context = await loaded.embedding;
        let promptTokens = 0;
        for (const [index, input] of inputs.entries()) {
          const length = context.calculateInputLength(input);
          if (length >= loaded.contextSize)
            throw new AppError(
              'context_length_exceeded',
              `input ${index} is ${length} tokens; model '${modelId}' embeds at most ${loaded.contextSize - 1}`,
              'input',
            );
          promptTokens += length;
        }
        const run = loaded.embeddingQueue.then(async () => {
          const vectors: Float32Array[] = [];
          for (const input of inputs)
            vectors.push(Float32Array.from((await context.getEmbeddingFor(input)).vector));
          return vectors;
        });
        loaded.embeddingQueue = run.catch(noop);
        return { vectors: await run, promptTokens };
      });
    },

    tokenize(modelId, text) {
      // Plain text: special-token markup in it is not turned into control tokens.
      return withModel(modelId, async ({ model }) => model.model.tokenize(text, false).map(Number));
    },

    async info(modelId): Promise<ModelInfo> {
      const entry = entries.get(modelId);
      const file = entry?.ready?.file ?? (await resolveFile(modelId)).file;
      return {
        contextLength: contextSizeOf(file),
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
