// POST /v1/moderations in OpenAI's shapes: `input` a string, an array of strings, or an array of text parts
// (`{"type":"text","text":…}`; image parts are not supported), optional `model`; the answer
// `{id, model, results: [{flagged, categories, category_scores, category_applied_input_types}]}`, one result per
// input, with ownlm's own categories (pii, prompt_injection, jailbreak) beside OpenAI's.
import { randomBytes } from 'node:crypto';
import { moderationCategories, type ModerationResult } from '@ownlm/studio';
import { AppError } from '../errors.ts';

/** What a request names when it leaves `model` out, and the name answers carry for ownlm's own moderation. */
export const BUILTIN_MODERATION_MODEL = 'ownlm-moderation';
/** OpenAI's moderation model names, answered by ownlm's own moderation so clients that name them work. */
const OPENAI_MODERATION_MODELS = /^(omni|text)-moderation-/;

/** Inputs per request, and characters in all: moderation reads every character several times. */
export const MAX_MODERATION_INPUTS = 256;
export const MAX_MODERATION_CHARACTERS = 1_000_000;

export interface ModerationRequest {
  inputs: string[];
  /** The name the answer carries. */
  model: string;
  /** A registered model to ask Llama Guard style; null for ownlm's rules and classifier. */
  guardModel: string | null;
}

const invalid = (param: string, message: string) =>
  new AppError('invalid_request', `${param}: ${message}`, param);

function inputText(value: unknown, param: string): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
    const part = value as Record<string, unknown>;
    if (part.type === 'text' && typeof part.text === 'string') return part.text;
    if (part.type === 'image_url')
      throw new AppError(
        'not_supported',
        `${param}: images are not moderated by this server; send text`,
        param,
      );
  }
  throw invalid(param, 'expected a string or a text part {"type":"text","text":…}');
}

/** Parses the body; a field of the wrong type is a 400 naming it. */
export function parseModerationRequest(body: unknown): ModerationRequest {
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    throw new AppError('invalid_request', 'the request body must be a JSON object {"input": …}');
  const { input, model } = body as Record<string, unknown>;
  if (model !== undefined && (typeof model !== 'string' || model === '' || model.length > 256))
    throw invalid('model', 'expected a model name');
  const inputs = Array.isArray(input)
    ? input.map((v, i) => inputText(v, `input[${i}]`))
    : [inputText(input, 'input')];
  if (inputs.length === 0) throw invalid('input', 'must not be an empty array');
  if (inputs.length > MAX_MODERATION_INPUTS)
    throw invalid('input', `at most ${MAX_MODERATION_INPUTS} inputs per request, got ${inputs.length}`);
  if (inputs.reduce((sum, text) => sum + text.length, 0) > MAX_MODERATION_CHARACTERS)
    throw invalid(
      'input',
      `at most ${MAX_MODERATION_CHARACTERS} characters in all; send fewer inputs per request`,
    );
  const builtin =
    model === undefined || model === BUILTIN_MODERATION_MODEL || OPENAI_MODERATION_MODELS.test(model);
  return { inputs, model: model ?? BUILTIN_MODERATION_MODEL, guardModel: builtin ? null : model };
}

/** The answer: one result per input, in OpenAI's shape. */
export function moderationResponse(model: string, results: readonly ModerationResult[]) {
  const appliedTo = Object.fromEntries(moderationCategories.map((c) => [c, ['text']]));
  return {
    id: `modr-${randomBytes(18).toString('base64url')}`,
    model,
    results: results.map((r) => ({
      flagged: r.flagged,
      categories: r.categories,
      category_scores: r.category_scores,
      category_applied_input_types: appliedTo,
    })),
  };
}
