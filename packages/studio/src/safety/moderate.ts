// Moderation of one text against a policy, with results shaped as OpenAI's moderation results (`flagged`,
// `categories`, `category_scores`) plus the evidence behind them (`reasons`), so a server can answer
// `POST /v1/moderations` with the first three and queue the last for admins. Evidence comes from the rules,
// the corpus pipeline's PII detector, hidden payloads decoded and re-read, and the classifier; a category's
// score combines its evidence (and its subcategories') as independent: 1 − Π(1 − score).
import { emptyPiiCounts, piiTypes, scrubPii, type PiiType } from '../data/pii.ts';
import {
  moderationCategories,
  parentCategory,
  type ModerationCategory,
  type SafetyReason,
} from './categories.ts';
import { shippedClassifier, type SafetyClassifier } from './classifier.ts';
import { foldText } from './fold.ts';
import { combineScores, hiddenPayloadReasons } from './injection.ts';
import { matchRules, shippedRules, type RuleSet } from './rules.ts';

export interface ModerationPolicy {
  /** Rules to try: the shipped ones, an admin's own, or both (`{ rules: [...a.rules, ...b.rules] }`). */
  rules: RuleSet | null;
  /** PII values whose presence flags `pii` (the corpus pipeline's detector); empty for none. */
  pii: readonly PiiType[];
  /** The trained classifier, or null. */
  classifier: SafetyClassifier | null;
  /** Decode payloads hidden in base64, hex, percent-encoding or Unicode tags and apply the rules to them. */
  hiddenPayloads: boolean;
  /** Score at or above which a category is flagged; 0.5 for a category not listed. */
  thresholds?: Partial<Record<ModerationCategory, number>>;
}

/** One moderation result, as in OpenAI's `results` array, with the evidence. */
export interface ModerationResult {
  flagged: boolean;
  categories: Record<ModerationCategory, boolean>;
  category_scores: Record<ModerationCategory, number>;
  /** The evidence of score ≥ 0.1, strongest first. PII evidence names the type, never the value. */
  reasons: SafetyReason[];
}

export const DEFAULT_THRESHOLD = 0.5;

/** Which of ownlm's own filters a built-in policy uses: the rules (with the PII detector), the classifier. */
export interface BuiltinFilters {
  rules: boolean;
  classifier: boolean;
}

/**
 * A policy of ownlm's own filters, what applies when an admin has set none: the shipped rules with hidden
 * payloads decoded, and the shipped classifier. PII values flag outputs only: a user may share their own
 * address in a question, but a model should not print anyone's.
 */
export function builtinModerationPolicy(
  direction: 'input' | 'output',
  filters: BuiltinFilters = { rules: true, classifier: true },
): ModerationPolicy {
  return {
    rules: filters.rules ? shippedRules() : null,
    pii: filters.rules && direction === 'output' ? piiTypes : [],
    classifier: filters.classifier ? shippedClassifier() : null,
    hiddenPayloads: filters.rules,
  };
}

/** Scores, flags and listed reasons from pieces of evidence. */
function moderationResult(
  evidence: readonly SafetyReason[],
  policy: Pick<ModerationPolicy, 'thresholds'>,
): ModerationResult {
  const byCategory = new Map<ModerationCategory, number[]>();
  const add = (category: ModerationCategory, score: number) => {
    const list = byCategory.get(category) ?? [];
    list.push(score);
    byCategory.set(category, list);
  };
  for (const reason of evidence) {
    add(reason.category, reason.score);
    const parent = parentCategory(reason.category);
    if (parent !== reason.category) add(parent, reason.score);
  }
  const category_scores = {} as Record<ModerationCategory, number>;
  const categories = {} as Record<ModerationCategory, boolean>;
  for (const category of moderationCategories) {
    const score = combineScores(byCategory.get(category) ?? []);
    category_scores[category] = score;
    categories[category] = score >= (policy.thresholds?.[category] ?? DEFAULT_THRESHOLD);
  }
  const reasons = evidence.filter((r) => r.score >= 0.1).sort((a, b) => b.score - a.score);
  return { flagged: Object.values(categories).some(Boolean), categories, category_scores, reasons };
}

/** Moderates one text (a message, an answer, a retrieved passage) against a policy. */
export function moderate(text: string, policy: ModerationPolicy): ModerationResult {
  const evidence: SafetyReason[] = [];
  if (policy.rules) {
    evidence.push(...matchRules(foldText(text), policy.rules));
    if (policy.hiddenPayloads) evidence.push(...hiddenPayloadReasons(text, policy.rules));
  }
  if (policy.pii.length > 0) {
    const counts = emptyPiiCounts();
    scrubPii(text, counts);
    for (const type of policy.pii)
      if (counts[type] > 0) evidence.push({ category: 'pii', source: 'pii', id: `pii/${type}`, score: 1 });
  }
  if (policy.classifier) {
    const { probabilities } = policy.classifier.predict([text])[0];
    for (const [label, score] of Object.entries(probabilities))
      if (label !== 'benign')
        evidence.push({
          category: label as ModerationCategory,
          source: 'classifier',
          id: `classifier/${label}`,
          score,
        });
  }
  return moderationResult(evidence, policy);
}

/**
 * Several results for the same text (the built-in moderation and a guard model's verdict) as one: every
 * reason kept, each category at its highest score, flagged where any result flagged it.
 */
export function mergeModerations(results: readonly ModerationResult[]): ModerationResult {
  const category_scores = {} as Record<ModerationCategory, number>;
  const categories = {} as Record<ModerationCategory, boolean>;
  for (const category of moderationCategories) {
    category_scores[category] = Math.max(0, ...results.map((r) => r.category_scores[category]));
    categories[category] = results.some((r) => r.categories[category]);
  }
  const reasons = results.flatMap((r) => r.reasons).sort((a, b) => b.score - a.score);
  return { flagged: results.some((r) => r.flagged), categories, category_scores, reasons };
}

/** A result from evidence found elsewhere (a guard model's verdict), flagged at the default thresholds. */
export function moderationFromReasons(reasons: readonly SafetyReason[]): ModerationResult {
  return moderationResult(reasons, {});
}
