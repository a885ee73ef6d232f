// A prompt too long for its model is refused by its size before anything reads it further: tokenizing megabytes
// takes seconds, measuring them does not. No token stands for more than the model's maxTokenBytes bytes of text,
// so a prompt of more than contextLength × maxTokenBytes bytes needs more tokens than the context holds. A
// prompt within the bound is tokenized by the runtime (off the event loop) and checked exactly there.
import type { AppContext } from './context.ts';
import { AppError } from './errors.ts';
import type { RegisteredModel } from './registry/registry.ts';
import type { RuntimeMessage } from './serve/runtime.ts';

/** Throws `context_length_exceeded` naming `messages` or `prompt` when the text cannot fit the context. */
export async function refuseOversizedPrompt(
  ctx: AppContext,
  model: RegisteredModel,
  input: { messages: RuntimeMessage[] } | { prompt: string },
): Promise<void> {
  const { contextLength, maxTokenBytes } = await ctx.runtime.info(model.versionId);
  const texts = 'messages' in input ? input.messages.map((message) => message.content) : [input.prompt];
  const bytes = texts.reduce((sum, text) => sum + Buffer.byteLength(text), 0);
  const limit = contextLength * maxTokenBytes;
  if (bytes <= limit) return;
  const param = 'messages' in input ? 'messages' : 'prompt';
  throw new AppError(
    'context_length_exceeded',
    `the ${param === 'messages' ? "messages' text is" : 'prompt is'} ${bytes} bytes; model ` +
      `'${model.name}:${model.version}' has a context of ${contextLength} tokens, which hold at most ${limit} ` +
      `bytes of text; shorten the ${param}`,
    param,
  );
}
