// OpenAI-compatible responses (docs/FORMATS.md#openai-http-api), in the shapes the official clients parse: model
// objects, chat and legacy completions (whole, or streamed as Server-Sent Events ending in `data: [DONE]`),
// embeddings, and usage. A stream's first event is awaited before any byte is sent, so an error up to then is an
// ordinary HTTP error; an error after it is an `{"error":…}` event before `[DONE]`.
import { randomBytes } from 'node:crypto';
import type { FastifyBaseLogger, FastifyReply } from 'fastify';
import { AppError } from '../errors.ts';
import { openEventStream } from '../event-stream.ts';
import type { ClientGenerationEvent, GenerationFinish } from '../generation.ts';
import type { RegisteredModel } from '../registry/registry.ts';
import type { TokenUsage } from '../serve/runtime.ts';
import type { EmbeddingRequest, SamplingRequest } from './requests.ts';

const seconds = (date: Date) => Math.floor(date.getTime() / 1000);

interface ModelObject {
  id: string;
  object: 'model';
  created: number;
  owned_by: 'ownlm';
}

/** The model as GET /v1/models/:model answers, under the name the client used. */
export const modelObject = (id: string, model: RegisteredModel): ModelObject => ({
  id,
  object: 'model',
  created: seconds(model.createdAt),
  owned_by: 'ownlm',
});

/** GET /v1/models: every name a client can send: each model's name (its newest version), `name:version`, alias. */
export function modelList(models: RegisteredModel[]): { object: 'list'; data: ModelObject[] } {
  const byId = new Map<string, ModelObject>();
  // `list()` returns each model's newest version first, so the bare name goes to the newest.
  for (const model of models)
    for (const id of [model.name, `${model.name}:${model.version}`, ...model.aliases])
      if (!byId.has(id)) byId.set(id, modelObject(id, model));
  return { object: 'list', data: [...byId.values()] };
}

const usageObject = (usage: TokenUsage) => ({
  prompt_tokens: usage.promptTokens,
  completion_tokens: usage.completionTokens,
  total_tokens: usage.promptTokens + usage.completionTokens,
});

type ClientFinishReason = Exclude<GenerationFinish['finishReason'], 'cancelled'>;

/** The response shapes of one endpoint: chat (`chat.completion[.chunk]`) or legacy (`text_completion`). */
export interface CompletionShape {
  /** Before the random part of the response id. */
  idPrefix: string;
  /** A streamed chunk's `choices[0]`: the opening (role), a text piece, or the final one with the reason. */
  choice(piece: { opening: true } | { text: string } | { finish: ClientFinishReason }): object;
  /** Whether the stream opens with a chunk of no text (chat's `{"role":"assistant","content":""}`). */
  opening: boolean;
  chunkObject: string;
  /** The whole response's `choices[0]`. */
  whole(text: string, finish: ClientFinishReason): object;
  wholeObject: string;
}

export const chatShape: CompletionShape = {
  idPrefix: 'chatcmpl',
  opening: true,
  chunkObject: 'chat.completion.chunk',
  choice: (piece) => ({
    index: 0,
    delta:
      'opening' in piece
        ? { role: 'assistant', content: '' }
        : 'text' in piece
          ? { content: piece.text }
          : {},
    logprobs: null,
    finish_reason: 'finish' in piece ? piece.finish : null,
  }),
  wholeObject: 'chat.completion',
  whole: (text, finish) => ({
    index: 0,
    message: { role: 'assistant', content: text, refusal: null },
    logprobs: null,
    finish_reason: finish,
  }),
};

export const completionShape: CompletionShape = {
  idPrefix: 'cmpl',
  opening: false,
  chunkObject: 'text_completion',
  choice: (piece) => ({
    text: 'text' in piece ? piece.text : '',
    index: 0,
    logprobs: null,
    finish_reason: 'finish' in piece ? piece.finish : null,
  }),
  wholeObject: 'text_completion',
  whole: (text, finish) => ({ text, index: 0, logprobs: null, finish_reason: finish }),
};

/** A completion to answer: the request, its endpoint's shapes, and text sent before the generated text. */
export interface Completion {
  request: SamplingRequest;
  shape: CompletionShape;
  /** The prompt, for `echo`; otherwise empty. */
  prefix: string;
}

/**
 * A prompt injection detected in the input, told in a response header (the body keeps OpenAI's shape): the
 * detector's score.
 */
export const INJECTION_HEADER = 'x-ownlm-prompt-injection';

/** A cancellation the client did not cause (the model was unloaded) is an error it should retry. */
const unloaded = () =>
  new AppError('overloaded', 'the model was unloaded while generating this answer; retry the request');

function errorBody(error: unknown, log: FastifyBaseLogger) {
  if (error instanceof AppError) return error.toOpenAI();
  log.error({ err: error }, 'generation failed');
  return new AppError(
    'server_error',
    'the generation failed on the server; retry, or report it if it persists',
  ).toOpenAI();
}

/**
 * Answers a completion from its generation: returns the JSON response for Fastify to send or, when the client
 * asked for a stream, writes the stream to the raw response and returns nothing.
 */
export async function answerCompletion(
  reply: FastifyReply,
  generation: AsyncGenerator<ClientGenerationEvent>,
  completion: Completion,
): Promise<unknown> {
  const { request, shape, prefix } = completion;
  const id = `${shape.idPrefix}-${randomBytes(18).toString('base64url')}`;
  const created = Math.floor(Date.now() / 1000);

  /** A cancelled generation before any answer: an error if the model was unloaded, else the client is gone. */
  const cancelled = (finish: GenerationFinish) => {
    if (finish.unloaded) throw unloaded();
    reply.hijack();
  };

  async function whole() {
    let text = prefix;
    for await (const event of generation) {
      if (event.type === 'injection-detected') reply.header(INJECTION_HEADER, event.score.toFixed(2));
      else if (event.type === 'text-delta') text += event.text;
      else if (event.finishReason === 'cancelled') cancelled(event);
      else
        return {
          id,
          object: shape.wholeObject,
          created,
          model: request.model,
          choices: [shape.whole(text, event.finishReason)],
          usage: usageObject(event.usage),
        };
    }
  }

  async function streamed() {
    let next = await generation.next();
    // A warning comes before any text, so its header goes out with the stream's.
    for (; !next.done && next.value.type === 'injection-detected'; next = await generation.next())
      reply.header(INJECTION_HEADER, next.value.score.toFixed(2));
    if (!next.done && next.value.type === 'finish' && next.value.finishReason === 'cancelled')
      return cancelled(next.value);
    const stream = openEventStream(reply);
    const chunk = (choices: object[], usage: TokenUsage | null = null) => ({
      id,
      object: shape.chunkObject,
      created,
      model: request.model,
      choices,
      ...(request.includeUsage ? { usage: usage && usageObject(usage) } : {}),
    });
    if (shape.opening) await stream.sendData(chunk([shape.choice({ opening: true })]));
    if (prefix) await stream.sendData(chunk([shape.choice({ text: prefix })]));
    try {
      for (; stream.open && !next.done; next = await generation.next()) {
        const event = next.value;
        if (event.type === 'injection-detected') continue;
        if (event.type === 'text-delta') {
          if (event.text) await stream.sendData(chunk([shape.choice({ text: event.text })]));
          continue;
        }
        if (event.unloaded) await stream.sendData(errorBody(unloaded(), reply.log));
        else if (event.finishReason !== 'cancelled') {
          await stream.sendData(chunk([shape.choice({ finish: event.finishReason })]));
          if (request.includeUsage) await stream.sendData(chunk([], event.usage));
        }
        break;
      }
    } catch (error) {
      await stream.sendData(errorBody(error, reply.log));
    }
    stream.end('data: [DONE]\n\n');
  }

  try {
    return await (request.stream ? streamed() : whole());
  } finally {
    // Ends the generation (and gives its sequence back) when the client stopped reading early.
    await generation.return(undefined);
  }
}

/** The vector as base64 of little-endian float32 bytes, whatever this machine's byte order. */
function base64(vector: Float32Array): string {
  const bytes = Buffer.alloc(vector.length * 4);
  for (let i = 0; i < vector.length; i++) bytes.writeFloatLE(vector[i], i * 4);
  return bytes.toString('base64');
}

/** POST /v1/embeddings's answer. */
export function embeddingList(request: EmbeddingRequest, vectors: Float32Array[], promptTokens: number) {
  return {
    object: 'list',
    data: vectors.map((vector, index) => ({
      object: 'embedding',
      index,
      embedding: request.encodingFormat === 'base64' ? base64(vector) : Array.from(vector),
    })),
    model: request.model,
    usage: { prompt_tokens: promptTokens, total_tokens: promptTokens },
  };
}
