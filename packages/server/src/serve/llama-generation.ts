// Generation on a loaded llama.cpp model: the prompt (the model's own chat template, or raw text), a sequence from
// the model's slots (the one holding most of the prompt already), sampling with an optional JSON grammar, stop
// strings cut even when split across tokens, and text streamed as it decodes.
//
// Off the event loop: node-llama-cpp runs decoding and sampling in native async workers; the event loop only
// does per-token bookkeeping. Measured on the 2-core machine (monitorEventLoopDelay, 1 ms resolution; idle p99
// 1.2 ms) while generating 128 tokens with the `small` and `base` presets (Q8_0), 1 and 4 streams at once:
// loop delay p99 3.0-3.9 ms, max 8 ms; the loop is busy 0.3-1.0 ms per token. So models stay in this process;
// a worker thread per model would add a copy of every token across threads to save about a millisecond per
// token. The prompt is tokenized in the tokenizer process (./tokenizer-process.ts): node-llama-cpp tokenizes
// synchronously, and a prompt can be megabytes.
import { randomInt } from 'node:crypto';
import { loadLlamaCpp } from '@ownlm/studio';
import {
  LlamaGrammarEvaluationState,
  LlamaText,
  type ChatHistoryItem,
  type GbnfJsonSchema,
  type LlamaContextSequence,
  type LlamaGrammar,
  type LlamaModel,
  type Token,
} from 'node-llama-cpp';
import { AppError } from '../errors.ts';
import type { LoadedModel, ModelCache } from './llama-models.ts';
import type { FinishReason, GenerationEvent, GenerationOptions, Runtime, RuntimeMessage } from './runtime.ts';
import { StopStringFilter } from './stop-strings.ts';
import type { TokenizerProcess } from './tokenizer-process.ts';

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

async function chatPrompt(
  tokenizer: TokenizerProcess,
  modelId: string,
  loaded: LoadedModel,
  messages: RuntimeMessage[],
): Promise<Prompt> {
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
  const tokens = withBos(
    model,
    (await tokenizer.tokenize(loaded.file.path, { llamaText: state.contextText.toJSON() })) as Token[],
  );
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

/** Chat and raw completion over the models `models` holds, their prompts tokenized by `tokenizer`. */
export function createLlamaGeneration(
  models: ModelCache,
  tokenizer: TokenizerProcess,
): Pick<Runtime, 'chat' | 'complete'> {
  const schemaGrammars = new Map<string, Promise<LlamaGrammar>>();
  let jsonGrammar: Promise<LlamaGrammar> | null = null;

  async function grammarFor(format: GenerationOptions['responseFormat']): Promise<LlamaGrammar | undefined> {
    if (!format) return undefined;
    const llama = await loadLlamaCpp();
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

  async function* generate(
    modelId: string,
    options: GenerationOptions,
    prompt: (loaded: LoadedModel) => Promise<Prompt>,
  ): AsyncGenerator<GenerationEvent> {
    if (options.signal.aborted) {
      yield { type: 'finish', finishReason: 'cancelled', usage: { promptTokens: 0, completionTokens: 0 } };
      return;
    }
    const held = await models.lease(modelId);
    let sequence: LlamaContextSequence | null = null;
    let inFlight: Promise<IteratorResult<Token>> | null = null;
    let iterator: AsyncIterator<Token> | null = null;
    try {
      const { model, pool, contextSize } = held.model;
      const { tokens, endTokens, endStrings } = await prompt(held.model);
      if (tokens.length >= contextSize)
        throw new AppError(
          'context_length_exceeded',
          `the prompt is ${tokens.length} tokens; model '${modelId}' is served with a context of ${contextSize} ` +
            'tokens for prompt and completion together; shorten the messages',
          'messages',
        );
      const grammar = await grammarFor(options.responseFormat);
      const signal = AbortSignal.any([options.signal, held.unloading]);
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

  return {
    chat(modelId, messages, options) {
      return generate(modelId, options, (loaded) => chatPrompt(tokenizer, modelId, loaded, messages));
    },

    complete(modelId, text, options) {
      // Special-token text in a raw prompt is parsed, as llama.cpp's server does: the caller writes the format.
      return generate(modelId, options, async ({ model, file }) => ({
        tokens: withBos(model, (await tokenizer.tokenize(file.path, { text, special: true })) as Token[]),
        endTokens: new Set(),
        endStrings: [],
      }));
    },
  };
}
