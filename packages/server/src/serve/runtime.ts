// The one provider interface every model backend implements (llama.cpp in-process, an OpenAI-compatible
// upstream later). Callers — the /v1 routes and the chat routes — never branch on the backend.

/** A chat message as the runtime sees it: role and plain text (content parts are joined by the route). */
export interface RuntimeMessage {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

/** What the caller wants generated; every field has been validated by the route. */
export interface GenerationOptions {
  /** Maximum tokens to generate; the runtime also stops at the end of the context. */
  maxTokens: number;
  temperature: number;
  topP: number;
  /** Seed for sampling; omitted means a random one. */
  seed?: number;
  /** Stop strings; the matched stop text is not part of the output. */
  stop: string[];
  /** Constrain the output: any JSON object, or JSON matching a schema (via llama.cpp grammars). */
  responseFormat?: { type: 'json_object' } | { type: 'json_schema'; schema: object };
  /** Aborted when the client disconnects or presses stop; generation must end within a second. */
  signal: AbortSignal;
}

export type FinishReason = 'stop' | 'length' | 'cancelled';

/** Streamed pieces of a generation: text deltas, then exactly one `finish`. */
export type GenerationEvent =
  { type: 'text-delta'; text: string } | { type: 'finish'; finishReason: FinishReason; usage: TokenUsage };

export interface TokenUsage {
  promptTokens: number;
  completionTokens: number;
}

/** What a loaded model can tell about itself. */
export interface ModelInfo {
  contextLength: number;
  /**
   * The most bytes of text one token stands for: a prompt of more than contextLength × maxTokenBytes bytes
   * cannot fit, whatever its tokens, so it is refused before it is tokenized.
   */
  maxTokenBytes: number;
  /** The Jinja chat template embedded in the model file, if any. */
  chatTemplate: string | null;
  embeddingSize: number;
  parameterCount: number | null;
}

/** A runtime serves models by id (the registry's version id); loading happens on demand. */
export interface Runtime {
  /** Chat with the model's own chat template applied. */
  chat(
    modelId: string,
    messages: RuntimeMessage[],
    options: GenerationOptions,
  ): AsyncIterable<GenerationEvent>;
  /** Raw text completion (no template). */
  complete(modelId: string, prompt: string, options: GenerationOptions): AsyncIterable<GenerationEvent>;
  /** One embedding vector per input, with the number of prompt tokens used. */
  embed(modelId: string, inputs: string[]): Promise<{ vectors: Float32Array[]; promptTokens: number }>;
  tokenize(modelId: string, text: string): Promise<number[]>;
  /** The number of tokens of each text (plain text), in order: many texts in one call, off the event loop. */
  countTokens(modelId: string, texts: string[]): Promise<number[]>;
  info(modelId: string): Promise<ModelInfo>;
  unload(modelId: string): Promise<void>;
  close(): Promise<void>;
}
