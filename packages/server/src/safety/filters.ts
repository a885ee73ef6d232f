// The safety policy in force for a model, applied to one generation (../generation.ts, so chat answers and /v1
// alike): the input is checked before the model runs — every user message against the rules and classifier
// (verdicts cached, so a long chat is not re-read each turn), the newest one also by the guard model and for
// prompt injection — and the output as it streams: text is held back to a sentence end (160 characters at
// least), checked with the end of the text before it, and released only when clean; a bad one stops the
// generation. Blocks, flags and
// injection warnings go to the admins' flag queue.
import {
  detectInjection,
  guardModeration,
  guardPrompt,
  mergeModerations,
  moderate,
  moderationCategories,
  parseGuardVerdict,
  shippedClassifier,
  type GuardMessage,
  type InjectionResult,
  type ModerationPolicy,
  type ModerationResult,
} from '@ownlm/studio';
import type { FastifyBaseLogger } from 'fastify';
import type { Actor } from '../auth/actor.ts';
import type { AppContext } from '../context.ts';
import { AppError } from '../errors.ts';
import type { RegisteredModel } from '../registry/registry.ts';
import type { FinishReason, GenerationEvent, RuntimeMessage, TokenUsage } from '../serve/runtime.ts';
import type { UsageRecord } from '../usage.ts';
import { recordFlag, type FlagRecord } from './flags.ts';
import type { ActivePolicy } from './policies.ts';

/** A detected prompt injection in the newest input, marked untrusted and shown as a warning. */
export interface InjectionWarning {
  type: 'injection-detected';
  score: number;
  /** The evidence's ids (rules, `heuristic/…`, `classifier/…`). */
  reasons: string[];
}

/** The runtime's events with the output filter applied: a finish may be `content_filter`. */
export type FilteredEvent =
  | Extract<GenerationEvent, { type: 'text-delta' }>
  | {
      type: 'finish';
      finishReason: FinishReason | 'content_filter';
      usage: TokenUsage;
      /** With `content_filter`: the categories that stopped the output. */
      filteredCategories?: string[];
    };

/** Characters of checked output read again with the next sentence, so a phrase across two is still seen. */
const OVERLAP = 100;
/** Held-back output shorter than this waits for more sentences before it is checked. */
const MIN_PENDING = 160;
/** Held-back output checked even without a sentence end, so a long unpunctuated run is not held forever. */
const MAX_PENDING = 400;
/** Tokens a guard model may answer with (`unsafe` and a line of codes). */
const GUARD_TOKENS = 16;
const flaggedCategories = (result: ModerationResult) =>
  moderationCategories.filter((c) => result.categories[c]);

/** The message a blocked client reads. */
export const blockedMessage = (categories: readonly string[]) =>
  `blocked by the platform's safety policy: ${categories.join(', ')}`;

/** A guard model's verdict (Llama Guard style, greedy and short) on the last message of a conversation. */
export async function askGuard(options: {
  ctx: AppContext;
  guardModel: RegisteredModel;
  conversation: GuardMessage[];
  signal: AbortSignal;
}): Promise<ModerationResult> {
  let answer = '';
  const prompt = guardPrompt(options.conversation);
  const generation = { maxTokens: GUARD_TOKENS, temperature: 0, topP: 1, stop: [], signal: options.signal };
  for await (const event of options.ctx.runtime.chat(
    options.guardModel.versionId,
    [{ role: 'user', content: prompt }],
    generation,
  ))
    if (event.type === 'text-delta') answer += event.text;
  return guardModeration(parseGuardVerdict(answer));
}

/** Prompt-injection detection as a policy runs it: rules and heuristics, its classifier, its threshold. */
export function injectionVerdict(policy: ActivePolicy, text: string): InjectionResult {
  return detectInjection(text, {
    classifier: policy.row.classifier ? shippedClassifier() : null,
    threshold: policy.row.threshold,
  });
}

/** What a chat shows under an answer the output filter stopped. */
export const withheldNotice = (categories: readonly string[]) =>
  `The rest of this answer was withheld by the platform's safety policy: ${categories.join(', ')}.`;

/** What one generation is: who asks, which model, what it reads. */
export interface FilterRequest {
  ctx: AppContext;
  actor: Actor;
  model: RegisteredModel;
  input: { messages: RuntimeMessage[] } | { prompt: string };
  usage: Pick<UsageRecord, 'model' | 'source'>;
  log: FastifyBaseLogger;
  signal: AbortSignal;
}

/** The policy's checks bound to one generation. */
export interface GenerationFilters {
  /** Throws a `content_filter` AppError when the input is blocked; returns a warning for an injection. */
  checkInput(): Promise<InjectionWarning | null>;
  /** The runtime's events with the output checked; `stop` ends the generation when the output turns bad. */
  filterOutput(events: AsyncIterable<GenerationEvent>, stop: () => void): AsyncGenerator<FilteredEvent>;
}

/** The filters of the policy in force for the request's model, or none when no policy applies. */
export async function generationFilters(request: FilterRequest): Promise<GenerationFilters | null> {
  const policy = await request.ctx.safety.forModel(request.model);
  return policy ? bind(policy, request) : null;
}

function bind(policy: ActivePolicy, request: FilterRequest): GenerationFilters {
  const { ctx, actor, model, input, log, signal } = request;
  const { row } = policy;
  const record = (flag: Pick<FlagRecord, 'direction' | 'action' | 'categories' | 'reasons' | 'text'>) =>
    recordFlag(
      ctx,
      {
        userId: actor.userId,
        apiKeyId: actor.apiKeyId,
        model: request.usage.model,
        versionId: model.versionId,
        policyId: row.id,
        source: request.usage.source,
        ...flag,
      },
      log,
    );
  const userTexts =
    'messages' in input
      ? input.messages.filter((m) => m.role === 'user').map((m) => m.content)
      : [input.prompt];
  const newest = userTexts.at(-1) ?? '';
  const param = 'messages' in input ? 'messages' : 'prompt';

  /** The policy's guard model's verdict on the last message of a conversation, when it has one. */
  async function guard(conversation: GuardMessage[]): Promise<ModerationResult | null> {
    if (!row.guardModel) return null;
    const guardModel = await ctx.registry.resolve(row.guardModel);
    return askGuard({ ctx, guardModel, conversation, signal });
  }

  /** Acts on a flagged text (the newest message or an earlier one): records it, and throws when the policy blocks. */
  async function judgeInput(result: ModerationResult, text: string, earlier = false): Promise<void> {
    const categories = flaggedCategories(result);
    const blocked = row.action === 'block';
    await record({
      direction: 'input',
      action: blocked ? 'blocked' : 'flagged',
      categories,
      reasons: result.reasons,
      text,
    });
    if (blocked)
      throw new AppError(
        'content_filter',
        `${blockedMessage(categories)}${earlier ? ' (an earlier message of this conversation: edit or remove it to go on)' : ''}`,
        param,
      );
  }

  return {
    async checkInput() {
      if (policy.input) {
        // Earlier messages were judged when they were the newest; only a block of one still matters.
        for (const text of userTexts.slice(0, -1)) {
          const earlier = ctx.safety.inputVerdict(policy, text);
          if (earlier.flagged && row.action === 'block') await judgeInput(earlier, text, true);
        }
        const results = [ctx.safety.inputVerdict(policy, newest)];
        const verdict = await guard([{ role: 'user', content: newest }]);
        if (verdict) results.push(verdict);
        const result = mergeModerations(results);
        if (result.flagged) await judgeInput(result, newest);
      }
      if (row.injection === 'off') return null;
      const injection = injectionVerdict(policy, newest);
      if (injection.label !== 'injection') return null;
      const blocked = row.injection === 'block';
      await record({
        direction: 'input',
        action: blocked ? 'blocked' : 'warned',
        categories: ['prompt_injection'],
        reasons: injection.reasons,
        text: newest,
      });
      if (blocked) throw new AppError('content_filter', blockedMessage(['prompt_injection']), param);
      return {
        type: 'injection-detected',
        score: injection.score,
        reasons: injection.reasons.map((r) => r.id),
      };
    },

    async *filterOutput(events, stop) {
      const outputPolicy: ModerationPolicy | null = policy.output;
      if (!outputPolicy) {
        yield* events;
        return;
      }
      let released = '';
      let pending = '';
      let stoppedBy: string[] | null = null;
      let flagged = false;

      /** Checks the pending text with the end of the released text; true when it may be released. */
      const passes = async (final: boolean): Promise<boolean> => {
        const window = released.slice(-OVERLAP) + pending;
        const results = [moderate(window, outputPolicy)];
        if (final) {
          const verdict = await guard([
            { role: 'user', content: newest },
            { role: 'assistant', content: released + pending },
          ]);
          if (verdict) results.push(verdict);
        }
        const result = mergeModerations(results);
        if (!result.flagged) return true;
        const categories = flaggedCategories(result);
        const blocked = row.action === 'block';
        // Flag-only policies record an answer once, however many of its sentences are flagged.
        if (blocked || !flagged)
          await record({
            direction: 'output',
            action: blocked ? 'blocked' : 'flagged',
            categories,
            reasons: result.reasons,
            text: window,
          });
        flagged = true;
        if (!blocked) return true;
        stoppedBy = categories;
        stop();
        return false;
      };

      for await (const event of events) {
        if (event.type === 'text-delta') {
          if (stoppedBy) continue;
          pending += event.text;
          // Checked at a sentence end once enough has accumulated (a check costs about as much for one
          // sentence as for a few), or without one when too much has.
          const end = pending.length < MIN_PENDING ? 0 : lastSentenceEnd(pending);
          if (end === 0 && pending.length < MAX_PENDING) continue;
          const rest = end === 0 ? '' : pending.slice(end);
          pending = end === 0 ? pending : pending.slice(0, end);
          if (await passes(false)) {
            yield { type: 'text-delta', text: pending };
            released += pending;
            pending = rest;
          }
          continue;
        }
        if (!stoppedBy && (pending !== '' || row.guardModel) && (await passes(true)) && pending !== '')
          yield { type: 'text-delta', text: pending };
        if (stoppedBy)
          yield {
            type: 'finish',
            finishReason: 'content_filter',
            usage: event.usage,
            filteredCategories: stoppedBy,
          };
        else yield event;
        return;
      }
    },
  };
}

/** The index just after the last sentence end in a text (., !, ? or a line break, then a space or the end). */
function lastSentenceEnd(text: string): number {
  let end = 0;
  for (const match of text.matchAll(/[.!?\n](?=\s|$)/g)) end = match.index + 1;
  return end;
}
