// Prompt-injection detection, for user input and for retrieved or uploaded text: the injection and jailbreak
// rules (instructions to ignore previous instructions, role and system impersonation, chat-template tokens,
// delimiter breaking, tool-call and setting injection, extraction of the system prompt), payloads hidden in
// encodings (base64, hex, percent-encoding, invisible Unicode tag characters) decoded and read by every rule,
// and the classifier. Content scored at or above the threshold is to be marked untrusted and shown with a
// warning.
import type { ClassifierPrediction, SafetyClassifier } from './classifier.ts';
import { foldText } from './fold.ts';
import type { SafetyReason } from './categories.ts';
import { matchRules, shippedRules, type RuleSet } from './rules.ts';

export type HiddenPayloadKind = 'base64' | 'hex' | 'percent-encoding' | 'unicode-tags';

export interface HiddenPayload {
  kind: HiddenPayloadKind;
  /** The decoded text. */
  text: string;
}

const base64Run = /[A-Za-z0-9+/_-]{16,}={0,2}/g;
const hexRun = /(?:\\x|0x)?(?:[0-9a-fA-F]{2}(?:\\x|[ :])?){8,}/g;
const percentRun = /(?:%[0-9a-fA-F]{2}){4,}/g;
// Unicode tag characters (U+E0000–U+E007F) mirror ASCII and render as nothing; outside emoji flag sequences
// (which follow U+1F3F4) they carry text no reader sees.
const tagRun = /(?<!\u{1F3F4}[\u{E0000}-\u{E007F}]*)[\u{E0000}-\u{E007F}]{4,}/gu;

/** Decoded bytes read as text when they look like writing: mostly letters and spaces, few control bytes. */
function asWriting(bytes: Buffer): string | null {
  const text = bytes.toString('utf8');
  if (text.length < 8 || text.includes('\uFFFD')) return null;
  const readable = text.match(/[\p{L}\p{N}\p{P}\s]/gu)?.length ?? 0;
  return readable / text.length >= 0.9 && /\p{L}{2,}\s+\p{L}{2,}/u.test(text) ? text : null;
}

/** Text hidden in a message in encodings a model can read back but a filter reading words would miss. */
export function hiddenPayloads(text: string): HiddenPayload[] {
  const found: HiddenPayload[] = [];
  for (const [run] of text.matchAll(base64Run)) {
    const decoded = asWriting(Buffer.from(run.replace(/-/g, '+').replace(/_/g, '/'), 'base64'));
    if (decoded) found.push({ kind: 'base64', text: decoded });
  }
  for (const [run] of text.matchAll(hexRun)) {
    const decoded = asWriting(Buffer.from(run.replace(/\\x|0x|[ :]/g, ''), 'hex'));
    if (decoded) found.push({ kind: 'hex', text: decoded });
  }
  for (const [run] of text.matchAll(percentRun)) {
    try {
      const decoded = asWriting(Buffer.from(decodeURIComponent(run)));
      if (decoded) found.push({ kind: 'percent-encoding', text: decoded });
    } catch {
      // Not valid UTF-8 once decoded: not text.
    }
  }
  for (const [run] of text.matchAll(tagRun))
    found.push({
      kind: 'unicode-tags',
      text: String.fromCodePoint(...[...run].map((c) => c.codePointAt(0)! - 0xe0000)),
    });
  return found;
}

/**
 * Evidence from hidden payloads: every rule that fires on a decoded payload (in its own category, scored as
 * the rule), and, as `prompt_injection`, the hiding itself: strong when the payload carries something a rule
 * catches, weak when it is merely text, and strong for invisible tag characters, which have no honest use in
 * a message.
 */
export function hiddenPayloadReasons(text: string, rules: RuleSet): SafetyReason[] {
  const reasons: SafetyReason[] = [];
  for (const payload of hiddenPayloads(text)) {
    const inside = matchRules(foldText(payload.text), rules);
    for (const reason of inside)
      reasons.push({ ...reason, source: 'heuristic', id: `heuristic/${payload.kind}:${reason.id}` });
    const score = payload.kind === 'unicode-tags' || inside.length > 0 ? 0.8 : 0.3;
    reasons.push({
      category: 'prompt_injection',
      source: 'heuristic',
      id: `heuristic/hidden-${payload.kind}`,
      score,
      excerpt: payload.text.slice(0, 80),
    });
  }
  return reasons;
}

/** Independent pieces of evidence combined: 1 − Π(1 − score). */
export function combineScores(scores: Iterable<number>): number {
  let keep = 1;
  for (const s of scores) keep *= 1 - Math.min(1, Math.max(0, s));
  return 1 - keep;
}

/** The classifier's evidence that a text tries to steer the model: injection and jailbreak probabilities. */
export function classifierInjectionReason(prediction: ClassifierPrediction): SafetyReason {
  const score = prediction.probabilities.prompt_injection + prediction.probabilities.jailbreak;
  return {
    category: 'prompt_injection',
    source: 'classifier',
    id: 'classifier/prompt_injection+jailbreak',
    score,
  };
}

export interface InjectionOptions {
  /** Rules to try; the shipped ones by default. */
  rules?: RuleSet;
  /** The classifier, or null to use rules and heuristics only. */
  classifier?: SafetyClassifier | null;
  /** Score at or above which a text is labelled an injection (default 0.5). */
  threshold?: number;
}

export interface InjectionResult {
  /** Combined evidence in [0, 1]. */
  score: number;
  label: 'injection' | 'benign';
  /** The evidence, strongest first. */
  reasons: SafetyReason[];
}

/** Whether a text (user input, or retrieved or uploaded content) tries to give the model instructions. */
export function detectInjection(text: string, options: InjectionOptions = {}): InjectionResult {
  const rules = options.rules ?? shippedRules();
  const steering = (r: SafetyReason) => r.category === 'prompt_injection' || r.category === 'jailbreak';
  const reasons = [
    ...matchRules(foldText(text), rules).filter(steering),
    // Anything hidden in an encoding counts, whatever it says.
    ...hiddenPayloadReasons(text, rules),
  ];
  if (options.classifier) reasons.push(classifierInjectionReason(options.classifier.predict([text])[0]));
  reasons.sort((a, b) => b.score - a.score);
  const score = combineScores(reasons.map((r) => r.score));
  return { score, label: score >= (options.threshold ?? 0.5) ? 'injection' : 'benign', reasons };
}
