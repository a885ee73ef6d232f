// The before/after evaluation of a fine-tune: perplexity on the assistant tokens of held-out conversations
// (exactly the tokens the fine-tune trains on, counted exactly) and greedy answers to scenario prompts through
// the chat template, for the base and the tuned model; saved as report.json, report.md and report.html.
import { generateTokens, noGrad, type LlamaModel } from '@ownlm/engine';
import type { Tokenizer } from '../tokenizer/tokenizer.ts';
import type { Conversation } from './conversation.ts';
import { sequenceBatch, trainedTokenCount, type EncodedConversation } from './sft-encode.ts';

export interface AssistantEvaluation {
  conversations: number;
  /** Assistant tokens scored (the trained positions of every held-out conversation). */
  assistantTokens: number;
  /** Mean negative log-likelihood per assistant token, in nats. */
  loss: number;
  perplexity: number;
}

/** Loss over the trained (assistant) tokens of `examples`, token-weighted, in batches of `batchSize`. */
export function assistantLoss(
  model: LlamaModel,
  examples: readonly EncodedConversation[],
  batchSize = 8,
): AssistantEvaluation {
  let nll = 0;
  let scored = 0;
  for (let i = 0; i < examples.length; i += batchSize) {
    const group = examples.slice(i, i + batchSize);
    const counted = group.reduce((n, e) => n + trainedTokenCount(e), 0);
    if (counted === 0) continue;
    const { inputs, targets, batch, seq } = sequenceBatch(group);
    nll += noGrad(() => model.loss(inputs, targets, { batch, seq }).item()) * counted;
    scored += counted;
  }
  const loss = scored > 0 ? nll / scored : Number.NaN;
  return { conversations: examples.length, assistantTokens: scored, loss, perplexity: Math.exp(loss) };
}

/** Ids that end an answer: the end-of-text token and the template's end-of-turn tokens the vocabulary has. */
export function stopTokensOf(tokenizer: Tokenizer): number[] {
  const ids = ['<|im_end|>', '<|eot_id|>', '<|end_of_text|>'].map((t) => tokenizer.tokenToId(t));
  if (tokenizer.eosId !== null) ids.push(tokenizer.eosId);
  return [...new Set(ids.filter((id): id is number => id !== undefined))];
}

/** Prompt ids of a one-turn chat: the user's message rendered with the generation prompt. */
export function scenarioIds(tokenizer: Tokenizer, prompt: string): Int32Array {
  const text = tokenizer.applyChatTemplate([{ role: 'user', content: prompt }], {
    addGenerationPrompt: true,
  });
  return Int32Array.from(tokenizer.encode(text, { addSpecialTokens: false, parseSpecial: true }));
}

/** The greedy answer of the model to each prompt (up to maxTokens, ending at an end-of-turn token). */
export function answerScenarios(
  model: LlamaModel,
  tokenizer: Tokenizer,
  prompts: readonly string[],
  maxTokens: number,
): string[] {
  const stop = stopTokensOf(tokenizer);
  return prompts.map((prompt) => {
    const ids = scenarioIds(tokenizer, prompt);
    const room = model.config.max_position_embeddings - ids.length;
    if (room <= 0) return '';
    const tokens = [
      ...generateTokens(model, ids, {
        temperature: 0,
        maxNewTokens: Math.min(maxTokens, room),
        stopTokens: stop,
      }),
    ];
    return tokenizer.decode(tokens.filter((t) => !stop.includes(t)));
  });
}

/** The default scenarios: the first user turn of up to `count` held-out conversations. */
export function defaultScenarios(heldOut: readonly Conversation[], count = 4): string[] {
  const prompts: string[] = [];
  for (const conversation of heldOut) {
    const first = conversation.messages.find((m) => m.role === 'user');
    if (first && !prompts.includes(first.content)) prompts.push(first.content);
    if (prompts.length === count) break;
  }
  return prompts;
}

/** One model's side of the comparison, computed before training (base) or after it (tuned). */
export interface ModelEvaluation {
  heldOut: AssistantEvaluation;
  answers: string[];
}

/** report.json, in the shape of STUDIO-API.md ("Models and reports"). */
export interface FinetuneReport {
  baseModel: string;
  tunedModel: string;
  dataset: string;
  heldOut: { conversations: number; assistantTokens: number };
  perplexity: { base: number; tuned: number };
  scenarios: { prompt: string; base: string; tuned: string }[];
}

export function evaluateModel(
  model: LlamaModel,
  tokenizer: Tokenizer,
  heldOut: readonly EncodedConversation[],
  scenarios: readonly string[],
  scenarioTokens: number,
): ModelEvaluation {
  return {
    heldOut: assistantLoss(model, heldOut),
    answers: answerScenarios(model, tokenizer, scenarios, scenarioTokens),
  };
}

export function buildReport(input: {
  baseModel: string;
  tunedModel: string;
  dataset: string;
  scenarios: readonly string[];
  base: ModelEvaluation;
  tuned: ModelEvaluation;
}): FinetuneReport {
  const { base, tuned } = input;
  if (base.heldOut.assistantTokens !== tuned.heldOut.assistantTokens)
    throw new Error(
      `report: base and tuned were scored on different tokens (${base.heldOut.assistantTokens} and ${tuned.heldOut.assistantTokens})`,
    );
  return {
    baseModel: input.baseModel,
    tunedModel: input.tunedModel,
    dataset: input.dataset,
    heldOut: { conversations: base.heldOut.conversations, assistantTokens: base.heldOut.assistantTokens },
    perplexity: { base: base.heldOut.perplexity, tuned: tuned.heldOut.perplexity },
    scenarios: input.scenarios.map((prompt, i) => ({
      prompt,
      base: base.answers[i],
      tuned: tuned.answers[i],
    })),
  };
}
