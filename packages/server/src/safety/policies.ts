// Safety policies: what an admin sets for the whole platform or for one model — input and output filters on or
// off, which checks run (the shipped rules, the shipped classifier at a threshold, a registered guard model,
// the admin's own words and patterns), prompt-injection detection, and whether a flagged text is blocked or only
// flagged. Stored in `safety_policies`; read through a cache (SafetyPolicies, in the app's context) that turns
// each into the moderation policies studio's `moderate` takes.
import { createHash } from 'node:crypto';
import {
  builtinModerationPolicy,
  compileRules,
  moderate,
  moderationCategories,
  type ModerationCategory,
  type ModerationPolicy,
  type ModerationResult,
  type RuleDefinition,
} from '@ownlm/studio';
import { eq } from 'drizzle-orm';
import { requireAdmin, type Actor } from '../auth/actor.ts';
import type { AppContext } from '../context.ts';
import type { Database } from '../db/database.ts';
import { safetyPolicies, type SafetyRule } from '../db/schema.ts';
import { AppError } from '../errors.ts';
import { newId } from '../ids.ts';
import type { RegisteredModel } from '../registry/registry.ts';
import { checkAdminPatterns } from './patterns.ts';

export type SafetyPolicyRow = typeof safetyPolicies.$inferSelect;

/** Rules per policy, and phrases per rule. */
export const MAX_CUSTOM_RULES = 20;
export const MAX_WORDS = 1000;
export const MAX_WORD_LENGTH = 100;

/** Input verdicts remembered. */
const VERDICTS_KEPT = 2000;
/** How long a cached policy list is trusted: another server on the same database may have changed it. */
const CACHE_MS = 5000;

/** A policy ready to run: its row, and the moderation policy of each direction it filters (null: off). */
export interface ActivePolicy {
  row: SafetyPolicyRow;
  input: ModerationPolicy | null;
  output: ModerationPolicy | null;
}

const STEERING = new Set<ModerationCategory>(['prompt_injection', 'jailbreak']);

/** The moderation policy of one direction: the chosen shipped filters, the admin's rules beside them. */
function moderationPolicy(row: SafetyPolicyRow, direction: 'input' | 'output'): ModerationPolicy {
  const builtin = builtinModerationPolicy(direction, { rules: row.rules, classifier: row.classifier });
  const custom = compileRules(
    {
      rules: row.customRules.map((rule, i) => ({
        id: `admin/${i + 1}`,
        category: rule.category as ModerationCategory,
        words: rule.words,
        patterns: rule.patterns,
      })),
    },
    `safety policy ${row.id}`,
  ).rules;
  // Steering (prompt injection, jailbreak) is prompt-injection detection's to judge, on inputs only.
  const thresholds = Object.fromEntries(
    moderationCategories.map((c) => [c, STEERING.has(c) ? Infinity : row.threshold]),
  );
  return {
    ...builtin,
    rules:
      builtin.rules || custom.length > 0
        ? { rules: [...(builtin.rules?.rules ?? []), ...custom], refusals: [] }
        : null,
    thresholds,
  };
}

function activate(row: SafetyPolicyRow): ActivePolicy {
  return {
    row,
    input: row.inputFilter ? moderationPolicy(row, 'input') : null,
    output: row.outputFilter ? moderationPolicy(row, 'output') : null,
  };
}

/** The names a policy's `model` may give a registered version, most specific first. */
const namesOf = (model: RegisteredModel) => [
  model.versionId,
  `${model.name}:${model.version}`,
  model.name,
  ...model.aliases,
];

/**
 * The enabled policies, compiled, cached for a few seconds and dropped at once when this server changes one.
 * `forModel` picks the one in force for a model: the model's own (by version id, name:version, name, then
 * alias), else the platform's, else none.
 */
export class SafetyPolicies {
  private cached: { at: number; policies: Promise<ActivePolicy[]> } | null = null;
  /** Input verdicts by policy revision and text (a chat's history is checked again every turn), oldest first. */
  private readonly verdicts = new Map<string, ModerationResult>();

  constructor(private readonly load: () => Promise<SafetyPolicyRow[]>) {}

  /** Policies read from the database's `safety_policies`. */
  static of(db: Database): SafetyPolicies {
    return new SafetyPolicies(() => db.select().from(safetyPolicies).where(eq(safetyPolicies.enabled, true)));
  }

  invalidate(): void {
    this.cached = null;
  }

  private all(): Promise<ActivePolicy[]> {
    if (!this.cached || Date.now() - this.cached.at > CACHE_MS) {
      const policies = this.load().then((rows) => rows.map(activate));
      // A failed read is not cached: the next request reads again.
      policies.catch(() => this.invalidate());
      this.cached = { at: Date.now(), policies };
    }
    return this.cached.policies;
  }

  /** The policy's input verdict (rules and classifier) on a text, remembered. */
  inputVerdict(policy: ActivePolicy, text: string): ModerationResult {
    const digest = createHash('sha256').update(text).digest('base64');
    const key = `${policy.row.id}:${policy.row.updatedAt.getTime()}:${digest}`;
    const known = this.verdicts.get(key);
    if (known) {
      this.verdicts.delete(key);
      this.verdicts.set(key, known);
      return known;
    }
    const result = moderate(text, policy.input!);
    this.verdicts.set(key, result);
    if (this.verdicts.size > VERDICTS_KEPT) this.verdicts.delete(this.verdicts.keys().next().value!);
    return result;
  }

  async forModel(model: RegisteredModel): Promise<ActivePolicy | null> {
    const policies = await this.all();
    for (const name of namesOf(model)) {
      const own = policies.find((p) => p.row.scope === 'model' && p.row.model === name);
      if (own) return own;
    }
    return policies.find((p) => p.row.scope === 'platform') ?? null;
  }
}

// The admin API's body ------------------------------------------------------------------------------------------

type Body = Record<string, unknown>;

const invalid = (param: string, message: string) =>
  new AppError('invalid_request', `${param}: ${message}`, param);

function booleanField(body: Body, name: string): boolean | undefined {
  const value = body[name];
  if (value === undefined) return undefined;
  if (typeof value !== 'boolean') throw invalid(name, 'expected true or false');
  return value;
}

function oneOfField<T extends string>(body: Body, name: string, values: readonly T[]): T | undefined {
  const value = body[name];
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || !values.includes(value as T))
    throw invalid(name, `expected one of ${values.join(', ')}`);
  return value as T;
}

function strings(value: unknown, param: string, max: number, maxLength: number): string[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) throw invalid(param, 'expected a list of strings');
  if (value.length > max) throw invalid(param, `at most ${max} entries, got ${value.length}`);
  return value.map((entry, i) => {
    if (typeof entry !== 'string' || entry.trim() === '')
      throw invalid(`${param}[${i}]`, 'expected a non-empty string');
    if (entry.length > maxLength) throw invalid(`${param}[${i}]`, `at most ${maxLength} characters`);
    return entry;
  });
}

/** The admin's rules: a category each, with words and patterns (patterns checked for safety). */
async function customRules(value: unknown): Promise<SafetyRule[]> {
  if (!Array.isArray(value)) throw invalid('customRules', 'expected a list of {category, words, patterns}');
  if (value.length > MAX_CUSTOM_RULES)
    throw invalid('customRules', `at most ${MAX_CUSTOM_RULES} rules, got ${value.length}`);
  const rules = value.map((rule: unknown, i): SafetyRule => {
    const param = `customRules[${i}]`;
    if (typeof rule !== 'object' || rule === null || Array.isArray(rule))
      throw invalid(param, 'expected {category, words, patterns}');
    const { category, words, patterns } = rule as Body;
    if (!(moderationCategories as readonly unknown[]).includes(category))
      throw invalid(`${param}.category`, `expected one of ${moderationCategories.join(', ')}`);
    const parsed = {
      category: category as string,
      words: strings(words, `${param}.words`, MAX_WORDS, MAX_WORD_LENGTH),
      patterns: strings(patterns, `${param}.patterns`, Infinity, Infinity),
    };
    if (parsed.words.length + parsed.patterns.length === 0) throw invalid(param, 'needs words or patterns');
    return parsed;
  });
  await checkAdminPatterns(
    rules.flatMap((rule, i) =>
      rule.patterns.map((pattern, j) => ({ pattern, param: `customRules[${i}].patterns[${j}]` })),
    ),
  );
  // The same compilation the filters use, so what is stored always compiles.
  try {
    compileRules({ rules: rules.map((r, i) => ({ id: `admin/${i + 1}`, ...r }) as RuleDefinition) });
  } catch (error) {
    throw invalid('customRules', (error as Error).message);
  }
  return rules;
}

/** A model reference in a policy (its scope, or its guard): it must name a registered model. */
async function modelReference(ctx: AppContext, value: unknown, param: string): Promise<string> {
  if (typeof value !== 'string' || value === '' || value.length > 256)
    throw invalid(param, 'expected a model name, alias or version id (GET /api/models)');
  try {
    await ctx.registry.resolve(value);
  } catch (error) {
    if (error instanceof AppError && error.code === 'model_not_found')
      throw invalid(param, `no model is called '${value}'; GET /api/models lists them`);
    throw error;
  }
  return value;
}

export type PolicyFields = Omit<SafetyPolicyRow, 'id' | 'createdAt' | 'updatedAt' | 'groupId'>;

/** What a new policy is unless its body says otherwise: the shipped rules and classifier on both directions. */
export const POLICY_DEFAULTS: Omit<PolicyFields, 'scope'> = {
  model: null,
  enabled: true,
  inputFilter: true,
  outputFilter: true,
  rules: true,
  classifier: true,
  threshold: 0.5,
  guardModel: null,
  injection: 'warn',
  customRules: [],
  action: 'block',
};

const POLICY_FIELDS = [
  'scope',
  'model',
  'enabled',
  'inputFilter',
  'outputFilter',
  'rules',
  'classifier',
  'threshold',
  'guardModel',
  'injection',
  'action',
  'customRules',
];

/** The fields a body sets, checked; on creation `scope` is required and the rest default. */
async function policyFields(
  ctx: AppContext,
  body: unknown,
  current: PolicyFields | null,
): Promise<Partial<PolicyFields>> {
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    throw new AppError('invalid_request', 'the body must be a JSON object of policy fields');
  const b = body as Body;
  const unknown = Object.keys(b).find((key) => !POLICY_FIELDS.includes(key));
  if (unknown) throw invalid(unknown, `is not a policy field; known: ${POLICY_FIELDS.join(', ')}`);
  const fields: Partial<PolicyFields> = {};
  const scope = oneOfField(b, 'scope', ['platform', 'model'] as const) ?? current?.scope;
  if (scope === undefined) throw invalid('scope', "required: 'platform' or 'model'");
  fields.scope = scope;
  if (scope === 'model') {
    const model = b.model === undefined ? current?.model : b.model;
    fields.model = await modelReference(ctx, model, 'model');
  } else {
    if (b.model !== undefined && b.model !== null)
      throw invalid('model', "only a 'model' scope names a model");
    fields.model = null;
  }
  for (const name of ['enabled', 'inputFilter', 'outputFilter', 'rules', 'classifier'] as const) {
    const value = booleanField(b, name);
    if (value !== undefined) fields[name] = value;
  }
  if (b.threshold !== undefined) {
    if (typeof b.threshold !== 'number' || !(b.threshold > 0 && b.threshold <= 1))
      throw invalid('threshold', 'expected a number in (0, 1]');
    fields.threshold = b.threshold;
  }
  if (b.guardModel !== undefined)
    fields.guardModel = b.guardModel === null ? null : await modelReference(ctx, b.guardModel, 'guardModel');
  const injection = oneOfField(b, 'injection', ['off', 'warn', 'block'] as const);
  if (injection) fields.injection = injection;
  const action = oneOfField(b, 'action', ['block', 'flag'] as const);
  if (action) fields.action = action;
  if (b.customRules !== undefined) fields.customRules = await customRules(b.customRules);
  return fields;
}

/** A policy as the admin API shows it. */
export type SafetyPolicyView = Omit<SafetyPolicyRow, 'groupId'>;

const policyView = ({ groupId: _group, ...view }: SafetyPolicyRow): SafetyPolicyView => view;

const notFound = (policyId: string) =>
  new AppError(
    'not_found',
    `safety policy ${policyId} does not exist; GET /api/admin/safety/policies lists them`,
  );

/** One policy per scope: a second for the same target is a conflict. */
async function uniqueScope<T>(work: () => Promise<T>, fields: Partial<PolicyFields>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    // PostgreSQL's unique_violation, on the query error itself or (through Drizzle) on its cause.
    const { code, cause } = error as { code?: string; cause?: { code?: string } };
    if (code === '23505' || cause?.code === '23505')
      throw new AppError(
        'conflict',
        `there is already a policy for ${fields.scope === 'model' ? `model '${fields.model}'` : 'the platform'}; change that one`,
        'scope',
      );
    throw error;
  }
}

/** The policies, with what the admin page needs to write one: the defaults and the categories a rule may flag. */
export async function listSafetyPolicies(options: { ctx: AppContext; actor: Actor }): Promise<{
  policies: SafetyPolicyView[];
  defaults: typeof POLICY_DEFAULTS;
  categories: readonly string[];
}> {
  requireAdmin(options.actor, 'read safety policies');
  const rows = await options.ctx.db.select().from(safetyPolicies).orderBy(safetyPolicies.createdAt);
  return { policies: rows.map(policyView), defaults: POLICY_DEFAULTS, categories: moderationCategories };
}

export async function createSafetyPolicy(options: {
  ctx: AppContext;
  actor: Actor;
  body: unknown;
}): Promise<SafetyPolicyView> {
  const { ctx, actor } = options;
  requireAdmin(actor, 'set safety policies');
  const fields = await policyFields(ctx, options.body, null);
  const [row] = await uniqueScope(
    () =>
      ctx.db
        .insert(safetyPolicies)
        .values({ id: newId('sp'), ...POLICY_DEFAULTS, ...(fields as PolicyFields) })
        .returning(),
    fields,
  );
  ctx.safety.invalidate();
  return policyView(row);
}

export async function updateSafetyPolicy(options: {
  ctx: AppContext;
  actor: Actor;
  policyId: string;
  body: unknown;
}): Promise<SafetyPolicyView> {
  const { ctx, actor, policyId } = options;
  requireAdmin(actor, 'set safety policies');
  const [current] = await ctx.db.select().from(safetyPolicies).where(eq(safetyPolicies.id, policyId));
  if (!current) throw notFound(policyId);
  const fields = await policyFields(ctx, options.body, current);
  const [row] = await uniqueScope(
    () =>
      ctx.db
        .update(safetyPolicies)
        .set({ ...fields, updatedAt: new Date() })
        .where(eq(safetyPolicies.id, policyId))
        .returning(),
    fields,
  );
  if (!row) throw notFound(policyId);
  ctx.safety.invalidate();
  return policyView(row);
}

export async function deleteSafetyPolicy(options: {
  ctx: AppContext;
  actor: Actor;
  policyId: string;
}): Promise<void> {
  const { ctx, actor, policyId } = options;
  requireAdmin(actor, 'delete safety policies');
  const deleted = await ctx.db
    .delete(safetyPolicies)
    .where(eq(safetyPolicies.id, policyId))
    .returning({ id: safetyPolicies.id });
  if (deleted.length === 0) throw notFound(policyId);
  ctx.safety.invalidate();
}
