// Rules: word lists and regular expressions per moderation category, kept as data (rules.yaml) and tried on
// the folded text. The shipped file is the default; admins' own rules (per group and model) are compiled
// from the same shape and concatenated with it.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import { DataError } from '../data/errors.ts';
import { isModerationCategory, type ModerationCategory, type SafetyReason } from './categories.ts';
import { foldText } from './fold.ts';

/** One rule as written in rules.yaml (or stored by an admin). */
export interface RuleDefinition {
  id: string;
  category: ModerationCategory;
  /** In (0, 1]; default 1. Below the flag threshold, a rule only adds to other evidence. */
  score?: number;
  /** Phrases matched as whole words, case-insensitive. */
  words?: string[];
  /** JavaScript regular expressions (flags `iu`); `{name}` stands for the alternation of `lists.name`. */
  patterns?: string[];
}

export interface RulesFile {
  lists?: Record<string, string[]>;
  rules: RuleDefinition[];
  /** Patterns of a model declining to answer (used by the red-team runner). */
  refusals?: string[];
}

export interface CompiledRule {
  id: string;
  category: ModerationCategory;
  score: number;
  expressions: RegExp[];
}

export interface RuleSet {
  rules: CompiledRule[];
  refusals: RegExp[];
}

export const shippedRulesFile = fileURLToPath(new URL('./rules.yaml', import.meta.url));

const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** Compiles rule definitions, naming the rule and the field of any that is malformed. */
export function compileRules(file: RulesFile, source = 'rules'): RuleSet {
  const lists = file.lists ?? {};
  const fail = (field: string, detail: string) =>
    new DataError('input-invalid', `${source}: ${field}: ${detail}`, field);
  const expand = (pattern: string, field: string) =>
    pattern.replace(/\{([a-z_]+)\}/g, (_, name: string) => {
      if (!Object.hasOwn(lists, name)) throw fail(field, `uses {${name}}, which is not under lists`);
      return `(?:${lists[name].join('|')})`;
    });
  const compile = (pattern: string, field: string) => {
    try {
      return new RegExp(pattern, 'iu');
    } catch (error) {
      throw fail(field, `invalid regular expression: ${(error as Error).message}`);
    }
  };
  if (!Array.isArray(file.rules)) throw fail('rules', 'must be a list');
  const rules = file.rules.map((rule, i) => {
    const field = `rules[${i}]${typeof rule?.id === 'string' ? ` (${rule.id})` : ''}`;
    if (typeof rule?.id !== 'string' || rule.id === '')
      throw fail(`${field}.id`, 'must be a non-empty string');
    if (!isModerationCategory(rule.category))
      throw fail(`${field}.category`, `unknown category ${JSON.stringify(rule.category)}`);
    const score = rule.score ?? 1;
    if (!(typeof score === 'number' && score > 0 && score <= 1))
      throw fail(`${field}.score`, 'must be in (0, 1]');
    const expressions: RegExp[] = [];
    if (rule.words?.length)
      expressions.push(
        compile(
          `(?<![\\p{L}\\p{N}])(?:${rule.words.map((w) => escapeRegExp(foldText(w)).replace(/ /g, '\\s+')).join('|')})(?![\\p{L}\\p{N}])`,
          `${field}.words`,
        ),
      );
    (rule.patterns ?? []).forEach((p, j) =>
      expressions.push(compile(expand(p, `${field}.patterns[${j}]`), `${field}.patterns[${j}]`)),
    );
    if (expressions.length === 0) throw fail(field, 'needs words or patterns');
    return { id: rule.id, category: rule.category, score, expressions };
  });
  const refusals = (file.refusals ?? []).map((p, i) =>
    compile(expand(p, `refusals[${i}]`), `refusals[${i}]`),
  );
  return { rules, refusals };
}

/** Reads and compiles a rules file. */
export function loadRules(path: string): RuleSet {
  return compileRules(parseYaml(readFileSync(path, 'utf8')) as RulesFile, path);
}

let shipped: RuleSet | null = null;

/** The rules shipped in rules.yaml, compiled once per process. */
export function shippedRules(): RuleSet {
  shipped ??= loadRules(shippedRulesFile);
  return shipped;
}

/** The rules that fire on a text (already folded with foldText), one reason per rule. */
export function matchRules(folded: string, rules: RuleSet): SafetyReason[] {
  const reasons: SafetyReason[] = [];
  for (const rule of rules.rules) {
    for (const expression of rule.expressions) {
      const match = expression.exec(folded);
      if (!match) continue;
      reasons.push({
        category: rule.category,
        source: 'rule',
        id: rule.id,
        score: rule.score,
        excerpt: match[0].slice(0, 80),
      });
      break;
    }
  }
  return reasons;
}

/** True when the start of an answer (its first 300 characters) declines the request. */
export function isRefusal(answer: string, rules: RuleSet): boolean {
  const opening = foldText(answer).slice(0, 300);
  return rules.refusals.some((expression) => expression.test(opening));
}
