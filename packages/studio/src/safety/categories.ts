// The names safety results use. Moderation categories are OpenAI's (omni-moderation) plus ownlm's own three;
// the classifier predicts one label per text from a smaller set that maps onto them.

export const moderationCategories = [
  'harassment',
  'harassment/threatening',
  'hate',
  'hate/threatening',
  'illicit',
  'illicit/violent',
  'self-harm',
  'self-harm/intent',
  'self-harm/instructions',
  'sexual',
  'sexual/minors',
  'violence',
  'violence/graphic',
  'pii',
  'prompt_injection',
  'jailbreak',
] as const;

export type ModerationCategory = (typeof moderationCategories)[number];

/** The classifier's labels: `benign`, and the top-level moderation categories it learns. */
export const classifierLabels = [
  'benign',
  'harassment',
  'hate',
  'illicit',
  'self-harm',
  'sexual',
  'violence',
  'pii',
  'prompt_injection',
  'jailbreak',
] as const;

export type ClassifierLabel = (typeof classifierLabels)[number];

export function isModerationCategory(value: unknown): value is ModerationCategory {
  return (moderationCategories as readonly unknown[]).includes(value);
}

export function isClassifierLabel(value: unknown): value is ClassifierLabel {
  return (classifierLabels as readonly unknown[]).includes(value);
}

/** The top-level category of a subcategory (`self-harm/intent` → `self-harm`); a top-level one is itself. */
export function parentCategory(category: ModerationCategory): ModerationCategory {
  return category.split('/')[0] as ModerationCategory;
}

/** Evidence for a category: which rule, detector or model said so, how strongly, and on what text. */
export interface SafetyReason {
  category: ModerationCategory;
  source: 'rule' | 'pii' | 'classifier' | 'guard' | 'heuristic';
  /** The rule id, `pii/<type>`, `classifier/<label>`, `guard/<code>` or `heuristic/<name>`. */
  id: string;
  score: number;
  /** The matched text (folded), at most 80 characters, when there is one. */
  excerpt?: string;
}
