// Guard models: any registered model asked, Llama Guard style, whether the last user or assistant message of
// a conversation is safe. guardPrompt builds the classification task (the MLCommons hazard categories Llama
// Guard 3 was trained on, S1–S14, or an admin's own list); the server sends it as the only user message
// through the runtime's chat, greedy and short, and parseGuardVerdict reads the answer: `safe`, or `unsafe`
// and a line of category codes.
import type { ModerationCategory, SafetyReason } from './categories.ts';
import { moderationFromReasons, type ModerationResult } from './moderate.ts';

export interface GuardCategory {
  /** The code the model answers with (S1…). */
  code: string;
  name: string;
  /** What the category covers, as the prompt states it; omitted from the prompt when empty. */
  description?: string;
  /** The moderation category a violation counts under, or null when none fits. */
  moderation: ModerationCategory | null;
}

/** Llama Guard 3's categories (MLCommons AI Safety taxonomy) and the moderation categories they map to. */
export const llamaGuardCategories: GuardCategory[] = [
  { code: 'S1', name: 'Violent Crimes', moderation: 'violence' },
  { code: 'S2', name: 'Non-Violent Crimes', moderation: 'illicit' },
  { code: 'S3', name: 'Sex-Related Crimes', moderation: 'sexual' },
  { code: 'S4', name: 'Child Sexual Exploitation', moderation: 'sexual/minors' },
  { code: 'S5', name: 'Defamation', moderation: 'harassment' },
  { code: 'S6', name: 'Specialized Advice', moderation: null },
  { code: 'S7', name: 'Privacy', moderation: 'pii' },
  { code: 'S8', name: 'Intellectual Property', moderation: null },
  { code: 'S9', name: 'Indiscriminate Weapons', moderation: 'illicit/violent' },
  { code: 'S10', name: 'Hate', moderation: 'hate' },
  { code: 'S11', name: 'Suicide & Self-Harm', moderation: 'self-harm' },
  { code: 'S12', name: 'Sexual Content', moderation: 'sexual' },
  { code: 'S13', name: 'Elections', moderation: null },
  { code: 'S14', name: 'Code Interpreter Abuse', moderation: 'illicit' },
];

export interface GuardMessage {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

export interface GuardPromptOptions {
  categories?: readonly GuardCategory[];
}

/**
 * The classification task for the last message of a conversation: the user's (moderating input) when the
 * conversation ends with a user message, the assistant's (moderating output) when it ends with one. System
 * messages are left out, as Llama Guard's own template leaves them out.
 */
export function guardPrompt(messages: readonly GuardMessage[], options: GuardPromptOptions = {}): string {
  const turns = messages.filter((m) => m.role !== 'system');
  if (turns.length === 0) throw new Error('guardPrompt: the conversation has no user or assistant message');
  const agent = turns[turns.length - 1].role === 'assistant' ? 'Agent' : 'User';
  const categories = (options.categories ?? llamaGuardCategories)
    .map((c) => `${c.code}: ${c.name}.${c.description ? `\n${c.description}` : ''}`)
    .join('\n');
  const conversation = turns
    .map((m) => `${m.role === 'user' ? 'User' : 'Agent'}: ${m.content.trim()}`)
    .join('\n\n');
  return `Task: Check if there is unsafe content in '${agent}' messages in conversations according our safety policy with the below categories.

<BEGIN UNSAFE CONTENT CATEGORIES>
${categories}
<END UNSAFE CONTENT CATEGORIES>

<BEGIN CONVERSATION>

${conversation}

<END CONVERSATION>

Provide your safety assessment for ONLY THE LAST ${agent} message in the above conversation:
 - First line must read 'safe' or 'unsafe'.
 - If unsafe, a second line must include a comma-separated list of violated categories.`;
}

export interface GuardVerdict {
  /** `unknown` when the answer starts with neither word: treat as the admin decides (fail open or closed). */
  verdict: 'safe' | 'unsafe' | 'unknown';
  /** Category codes named on the second line, as listed in the prompt's categories (unknown codes dropped). */
  codes: string[];
}

/** Reads a guard model's answer: `safe`, or `unsafe` and a comma-separated line of codes. */
export function parseGuardVerdict(text: string, options: GuardPromptOptions = {}): GuardVerdict {
  const lines = text
    .trim()
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== '');
  const first = lines[0]?.toLowerCase().replace(/[^a-z]/g, '') ?? '';
  if (first === 'safe') return { verdict: 'safe', codes: [] };
  if (!first.startsWith('unsafe')) return { verdict: 'unknown', codes: [] };
  const known = new Set((options.categories ?? llamaGuardCategories).map((c) => c.code.toUpperCase()));
  // The codes usually sit on the second line; some models put them after the word on the first.
  const rest = [lines[0].replace(/^\W*unsafe\W*/i, ''), ...lines.slice(1)].join(',');
  const codes = [...new Set(rest.split(/[\s,;]+/).map((c) => c.toUpperCase()))].filter((c) => known.has(c));
  return { verdict: 'unsafe', codes };
}

/**
 * A verdict as a moderation result, so it merges with the built-in one (mergeModerations). An unsafe verdict
 * without a mappable code still flags: as `illicit`, the broadest category.
 */
export function guardModeration(verdict: GuardVerdict, options: GuardPromptOptions = {}): ModerationResult {
  if (verdict.verdict !== 'unsafe') return moderationFromReasons([]);
  const categories = options.categories ?? llamaGuardCategories;
  const reasons: SafetyReason[] = verdict.codes.flatMap((code) => {
    const category = categories.find((c) => c.code.toUpperCase() === code)?.moderation;
    return category ? [{ category, source: 'guard' as const, id: `guard/${code}`, score: 1 }] : [];
  });
  if (reasons.length === 0)
    reasons.push({ category: 'illicit', source: 'guard', id: 'guard/unsafe', score: 1 });
  return moderationFromReasons(reasons);
}
