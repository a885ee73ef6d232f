// The job types, one definition each: its parameters as one TypeBox schema with their defaults and help (what
// POST /api/jobs validates and GET /api/job-types serves), the objects it reads (named by id and found among its
// owner's own, never by path), the `ownlm` command it runs in its job folder (job-folder.ts) and the files it
// makes. Pretraining and fine-tuning take every key of the studio's config table as a parameter (batch_size as
// batchSize), validated by the schema made from that table, and run on the resolved config the server writes into
// the job folder; the other types pass their settings as the command's flags.
import { writeFileSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import {
  ConfigError,
  defaultCorpusConfig,
  finetuneSettings,
  quoteValue,
  resolveConfig,
  resolveFinetuneConfig,
  trainSettings,
  type ConfigTable,
  type FinetuneConfig,
  type Rule,
  type Setting,
} from '@ownlm/studio';
import { Type, type SchemaOptions, type TObject, type TSchema } from '@sinclair/typebox';
import { Value, ValueErrorType } from '@sinclair/typebox/value';
import { and, eq } from 'drizzle-orm';
import type { Actor } from '../auth/actor.ts';
import type { AppContext } from '../context.ts';
import { datasets, jobs, type JobType } from '../db/schema.ts';
import { AppError } from '../errors.ts';
import { visibleTo } from '../registry/models.ts';
import { JOB_CONFIG, inputPath, jobArtifact, jobDirectory } from './job-folder.ts';

/** What an input's id names: one of the owner's datasets, a model version, or a succeeded job of a type. */
type Source = 'dataset' | 'model' | { job: JobType };

interface Input {
  source: Source;
  help: string;
  optional?: true;
}

/** A command that reads its settings from a config file of a studio config table (`--config`). */
interface ConfigFile {
  table: ConfigTable<unknown>;
  /** The config key of each input's path, by input name. */
  paths: Record<string, string>;
  /** Completes the config with the table's defaults and checks the rules across keys (a ConfigError otherwise). */
  resolve(config: Record<string, unknown>, where: string): unknown;
}

type Params = Record<string, unknown>;

interface JobTypeDefinition {
  summary: string;
  inputs: Record<string, Input>;
  /** The settings (parameters besides the inputs), each with its default where it has one. */
  settings: Record<string, TSchema>;
  config?: ConfigFile;
  /** The words after `ownlm`. */
  command: string[];
  /** Whether the command writes `--events -` JSON lines (otherwise only its exit code, stderr and `--json`). */
  events: boolean;
  /** The arguments placing the inputs (their paths in the job folder, by name) and the output. */
  args(paths: Record<string, string>, params: Params): string[];
  /** Where the output goes, relative to the job folder: the job's `result.out` before the command reports. */
  output?(params: Params): string;
  /** The result keys naming files the job makes (relative to its folder, under `run/`). */
  artifacts: readonly string[];
  /** The result key naming what a job reading this one reads. */
  product?: string;
  /** Checks across parameters, once each is valid; `found` holds what each input named. */
  check?(params: Params, found: Record<string, Found>): void;
}

/** An input found: its path on this server, and the model's context when it names a model version. */
interface Found {
  path: string;
  contextLength?: number | null;
}

const camel = (key: string) => key.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());
const kebab = (name: string) => name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);

const literals = (values: readonly string[], options: SchemaOptions = {}) =>
  Type.Union(
    values.map((value) => Type.Literal(value)),
    options,
  );

/** A config table's setting as a JSON Schema: its kind, its rule where JSON Schema can say it, default and help. */
function settingSchema(setting: Setting): TSchema {
  const {
    enum: values,
    minItems,
    uniqueItems,
    ...bounds
  } = (setting.rule as Rule<unknown> | undefined)?.[2] ?? {};
  const about = {
    description: setting.help,
    ...(setting.default === undefined ? {} : { default: setting.default }),
    ...(setting.defaultHelp === undefined ? {} : { defaultDescription: setting.defaultHelp }),
  };
  switch (setting.kind) {
    case 'string':
      return values ? literals(values, about) : Type.String({ minLength: 1, ...about });
    case 'integer':
      return Type.Integer({ ...bounds, ...about });
    case 'number':
      return Type.Number({ ...bounds, ...about });
    case 'boolean':
      return Type.Boolean(about);
    case 'strings':
      return Type.Array(values ? literals(values) : Type.String(), {
        ...(minItems === undefined ? {} : { minItems }),
        ...(uniqueItems === undefined ? {} : { uniqueItems }),
        ...about,
      });
    case 'optional-integer':
      return Type.Union([Type.Integer(bounds), Type.Null()], about);
    case 'optional-number':
      return Type.Union([Type.Number(bounds), Type.Null()], about);
  }
}

/** The keys of a config table that are settings: all but those naming its inputs and the output folder. */
function settingKeys(config: ConfigFile): string[] {
  const paths = new Set([...Object.values(config.paths), 'out']);
  return Object.keys(config.table).filter((key) => !paths.has(key));
}

/** The settings of a config table as parameters, camelCased. */
function tableSettings(config: ConfigFile): Record<string, TSchema> {
  const table = config.table as Record<string, Setting>;
  return Object.fromEntries(settingKeys(config).map((key) => [camel(key), settingSchema(table[key]!)]));
}

/** The config file of a job: its settings under the table's keys, its inputs' paths and `run` as the output. */
function configOf(
  config: ConfigFile,
  params: Params,
  paths: Record<string, string>,
): Record<string, unknown> {
  const given = settingKeys(config).filter((key) => params[camel(key)] !== undefined);
  return {
    ...Object.fromEntries(given.map((key) => [key, params[camel(key)]])),
    ...Object.fromEntries(Object.entries(config.paths).map(([input, key]) => [key, paths[input]])),
    out: 'run',
  };
}

const finetuneConfigFile: ConfigFile = {
  table: finetuneSettings as ConfigTable<unknown>,
  paths: { base: 'base', dataset: 'data' },
  resolve: (config, where) => resolveFinetuneConfig(config, where),
};

const pretrainConfigFile: ConfigFile = {
  table: trainSettings as ConfigTable<unknown>,
  paths: { data: 'data', tokenizer: 'tokenizer' },
  resolve: (config, where) => resolveConfig(config, where),
};

const job = (type: JobType, help: string): Input => ({ source: { job: type }, help });
const positiveInteger = (description: string) => Type.Integer({ minimum: 1, description });
const { filters, split } = defaultCorpusConfig;
const exportPath = (params: Params) => (params.format === 'hf' ? 'run/hf' : 'run/model.gguf');

const definitions: Record<JobType, JobTypeDefinition> = {
  'data-prepare': {
    summary: 'clean text into a deduplicated, PII-scrubbed train/validation corpus (`ownlm data prepare`)',
    inputs: {
      dataset: {
        source: 'dataset',
        help: "a conversation dataset (GET /api/datasets): its messages' text",
        optional: true,
      },
    },
    settings: {
      demo: Type.Boolean({ default: false, description: 'add the bundled demo corpus (Brown + nlp-corpus)' }),
      minWords: Type.Integer({
        minimum: 0,
        default: filters.minWords,
        description: 'drop documents with fewer words',
      }),
      maxWords: Type.Integer({
        minimum: 1,
        default: filters.maxWords,
        description: 'drop documents with more words',
      }),
      languages: Type.Array(Type.String({ minLength: 1 }), {
        minItems: 1,
        description: 'keep only these detected languages (en de fr es it nl pt, unknown); all when absent',
      }),
      validation: Type.Number({
        minimum: 0,
        exclusiveMaximum: 1,
        default: split.validationFraction,
        description: 'share of documents for validation',
      }),
      noNearDedup: Type.Boolean({ default: false, description: 'skip near-duplicate removal' }),
      noPii: Type.Boolean({ default: false, description: 'do not scrub PII' }),
    },
    command: ['data', 'prepare'],
    events: true,
    args: (paths) => [
      ...(paths.dataset ? [paths.dataset, '--text-field', 'messages'] : []),
      '--out',
      'run/corpus',
      '--overwrite',
    ],
    output: () => 'run/corpus',
    artifacts: ['out'],
    product: 'out',
    check(params) {
      if (params.dataset === undefined && params.demo !== true)
        throw invalid('dataset', 'must name a dataset, or demo must be true: there is no text to prepare');
    },
  },
  'tokenizer-train': {
    summary: 'train a byte-level BPE tokenizer on a prepared corpus (`ownlm tokenizer train`)',
    inputs: { corpus: job('data-prepare', 'the corpus: a data-prepare job') },
    settings: {
      vocabSize: Type.Integer({
        minimum: 2,
        description: 'total vocabulary, special tokens included (default 32000)',
      }),
      minFrequency: Type.Integer({
        minimum: 0,
        description: 'do not merge pairs seen fewer times (default 2)',
      }),
    },
    command: ['tokenizer', 'train'],
    events: true,
    args: (paths) => [paths.corpus!, '--out', 'run/tokenizer', '--force'],
    output: () => 'run/tokenizer',
    artifacts: ['out'],
    product: 'out',
  },
  'data-pack': {
    summary: 'encode a prepared corpus into token shards with a tokenizer (`ownlm data pack`)',
    inputs: {
      corpus: job('data-prepare', 'the corpus: a data-prepare job'),
      tokenizer: job('tokenizer-train', 'the tokenizer: a tokenizer-train job'),
    },
    settings: {},
    command: ['data', 'pack'],
    events: false,
    args: (paths) => [
      '--corpus',
      paths.corpus!,
      '--tokenizer',
      paths.tokenizer!,
      '--out',
      'run/shards',
      '--force',
    ],
    output: () => 'run/shards',
    artifacts: ['out'],
    product: 'out',
  },
  pretrain: {
    summary: 'pretrain a model on token shards (`ownlm train`)',
    inputs: {
      data: job('data-pack', 'the token shards: a data-pack job'),
      tokenizer: job('tokenizer-train', 'the tokenizer the shards were packed with: a tokenizer-train job'),
    },
    settings: tableSettings(pretrainConfigFile),
    config: pretrainConfigFile,
    command: ['train'],
    events: true,
    args: () => ['--config', JOB_CONFIG, '--resume'],
    artifacts: ['checkpoint'],
    product: 'checkpoint',
  },
  finetune: {
    summary:
      'fine-tune a model on a conversation dataset, LoRA or full, with a before/after report (`ownlm finetune`)',
    inputs: {
      base: { source: 'model', help: 'the base model: a model version id (GET /api/models)' },
      dataset: { source: 'dataset', help: 'the conversations: a dataset id (GET /api/datasets)' },
    },
    settings: tableSettings(finetuneConfigFile),
    config: finetuneConfigFile,
    command: ['finetune'],
    events: true,
    args: () => ['--config', JOB_CONFIG, '--resume'],
    // Not baseGguf: for a GGUF base it is the base itself, among the inputs.
    artifacts: ['out', 'adapterGguf', 'mergedGguf', 'peftAdapter', 'report'],
    check(params, found) {
      // Named here, the base's context also sizes the tokens a step processes.
      if (params.context === null && found.base?.contextLength) params.context = found.base.contextLength;
    },
  },
  eval: {
    summary:
      "perplexity and bits per byte of a pretrained checkpoint on a corpus's validation split (`ownlm eval`)",
    inputs: {
      model: job('pretrain', 'the model: a pretrain job (its last checkpoint)'),
      corpus: job('data-prepare', 'the held-out text: a data-prepare job (its validation split)'),
    },
    settings: {
      context: Type.Integer({ minimum: 2, description: "tokens per window (default the model's context)" }),
      batch: positiveInteger('windows per forward pass (default 8)'),
    },
    command: ['eval'],
    events: false,
    // --json prints the scores as one JSON line, which becomes the job's result.
    args: (paths) => ['--model', paths.model!, '--corpus', paths.corpus!, '--json'],
    artifacts: [],
  },
  export: {
    summary: 'export a pretrained checkpoint to a GGUF or a Hugging Face folder, verified (`ownlm export`)',
    inputs: { model: job('pretrain', 'the model: a pretrain job (its last checkpoint)') },
    settings: {
      format: literals(['gguf', 'hf'], { default: 'gguf', description: 'gguf or hf' }),
      dtype: literals(['f32', 'f16', 'bf16', 'q8_0', 'q4_0'], {
        description: 'the weights: f16 for gguf and f32 for hf when absent; hf takes f32, f16, bf16',
      }),
    },
    command: ['export'],
    events: true,
    args: (paths, params) => ['--model', paths.model!, '--out', exportPath(params), '--force'],
    output: exportPath,
    artifacts: ['out'],
  },
  // The whole path on the bundled demo corpus, with the run folder as its home: its GGUF lands in `run/models/`
  // (registered by the quickstart's completion handler, jobs/quickstart.ts).
  quickstart: {
    summary: 'the whole path on the bundled demo corpus to a registered GGUF (`ownlm quickstart`)',
    inputs: {},
    settings: {
      steps: positiveInteger('training steps (default 800)'),
      vocabSize: positiveInteger('tokenizer vocabulary (default 4096)'),
      seed: positiveInteger('seed of the run (default 1)'),
    },
    command: ['quickstart'],
    events: true,
    args: () => ['--home', 'run'],
    artifacts: ['model'],
  },
  // The model run in llama.cpp in the job folder behind ownlm's own filters; the report is stored by
  // jobs/redteam.ts. (A model behind the server's safety policy is red-teamed with `ownlm redteam --server`.)
  redteam: {
    summary:
      "the red-team suite against a model version behind ownlm's rules and classifier, with its report (`ownlm redteam`)",
    inputs: { model: { source: 'model', help: 'the model: a model version id (GET /api/models)' } },
    settings: {
      filters: literals(['both', 'rules', 'classifier', 'none'], {
        default: 'both',
        description: "ownlm's filters in front of and behind the model: rules, classifier, both or none",
      }),
      limit: positiveInteger('only the first N prompts of each category and kind, for a quick run'),
      maxTokens: positiveInteger('tokens per answer (default 200)'),
    },
    command: ['redteam'],
    events: true,
    args: (paths, params) => [
      '--model',
      String(params.model),
      '--gguf',
      paths.model!,
      '--out',
      'run/redteam',
    ],
    output: () => 'run/redteam',
    artifacts: ['out'],
  },
};

export const JOB_TYPES = Object.keys(definitions) as JobType[];

/** A type's parameters as one schema: the inputs (ids, required unless optional) and the settings. */
function paramsSchema(definition: JobTypeDefinition): TObject {
  const inputs = Object.entries(definition.inputs).map(([name, input]) => {
    const id = Type.String({ minLength: 1, description: input.help });
    return [name, input.optional ? Type.Optional(id) : id];
  });
  const settings = Object.entries(definition.settings).map(([name, schema]) => [name, Type.Optional(schema)]);
  return Type.Object(Object.fromEntries([...inputs, ...settings]), { additionalProperties: false });
}

const schemas = Object.fromEntries(
  JOB_TYPES.map((type) => [type, paramsSchema(definitions[type])]),
) as Record<JobType, TObject>;

/** GET /api/job-types: each type's summary, what its inputs name, and its parameters' JSON Schema. */
export function jobTypesView() {
  return Object.fromEntries(
    JOB_TYPES.map((type) => {
      const { summary, inputs } = definitions[type];
      const sources = Object.fromEntries(Object.entries(inputs).map(([name, input]) => [name, input.source]));
      return [type, { summary, inputs: sources, params: schemas[type] }];
    }),
  );
}

const invalid = (field: string, message: string) =>
  new AppError('invalid_request', `params.${field} ${message}`, `params.${field}`);

/** The bounds of a number schema in words: "≥ 1", "from 2 to 64", "in [0, 1)"; integers' as inclusive. */
function boundWords(schema: TSchema, integer: boolean): string {
  let low: { value: number; open: boolean } | null = null;
  let high: { value: number; open: boolean } | null = null;
  if (schema.minimum !== undefined) low = { value: schema.minimum, open: false };
  if (schema.exclusiveMinimum !== undefined) low = { value: schema.exclusiveMinimum, open: true };
  if (schema.maximum !== undefined) high = { value: schema.maximum, open: false };
  if (schema.exclusiveMaximum !== undefined) high = { value: schema.exclusiveMaximum, open: true };
  if (integer) {
    if (low?.open) low = { value: Math.floor(low.value) + 1, open: false };
    if (high?.open) high = { value: Math.ceil(high.value) - 1, open: false };
    if (low && high) return ` from ${low.value} to ${high.value}`;
  } else if (low && high)
    return ` in ${low.open ? '(' : '['}${low.value}, ${high.value}${high.open ? ')' : ']'}`;
  if (low) return ` ${low.open ? '>' : '≥'} ${low.value}`;
  if (high) return ` ${high.open ? '<' : '≤'} ${high.value}`;
  return '';
}

const constants = (schemas: readonly TSchema[]) =>
  schemas.every((branch) => 'const' in branch) ? schemas.map((branch) => String(branch.const)) : null;

/** What a value of `schema` is, in the words of the platform's other errors ("a whole number ≥ 1"). */
function schemaWords(schema: TSchema): string {
  if (schema.anyOf) {
    const branches = schema.anyOf as TSchema[];
    const values = constants(branches);
    return values ? `one of ${values.join(', ')}` : branches.map(schemaWords).join(' or ');
  }
  switch (schema.type) {
    case 'integer':
      return `a whole number${boundWords(schema, true)}`;
    case 'number':
      return `a number${boundWords(schema, false)}`;
    case 'string':
      return schema.minLength ? 'a non-empty string' : 'a string';
    case 'boolean':
      return 'true or false';
    case 'null':
      return 'null';
    case 'array': {
      const items = schema.items as TSchema;
      const values = items.anyOf ? constants(items.anyOf as TSchema[]) : null;
      const what = values
        ? `${schema.uniqueItems ? 'distinct ' : ''}values among ${values.join(', ')}`
        : `${schema.uniqueItems ? 'distinct ' : ''}${items.minLength ? 'non-empty ' : ''}strings`;
      return `${schema.minItems ? 'a non-empty list' : 'a list'} of ${what}`;
    }
    default:
      throw new Error(`job parameter schemas have no words for type ${String(schema.type)}`);
  }
}

/** The error of a parameter's value that is not what its schema (or its input) asks for. */
function mustBe(jobType: JobType, field: string, value: unknown): AppError {
  const input = definitions[jobType].inputs[field];
  let words: string;
  if (input) {
    const [what, list] = sourceWords(input.source);
    words = `the id of a ${what} (${list})`;
  } else words = schemaWords(schemas[jobType].properties[field]!);
  return invalid(field, `must be ${words}, got ${quoteValue(value)}`);
}

/** A scalar, or a list of scalars: no parameter holds more. */
const flat = (value: unknown) =>
  typeof value !== 'object' ||
  value === null ||
  (Array.isArray(value) && value.every((item) => typeof item !== 'object' || item === null));

const sourceWords = (source: Source) =>
  source === 'dataset'
    ? ['dataset of yours', 'GET /api/datasets']
    : source === 'model'
      ? ['model version', 'GET /api/models']
      : [`${source.job} job of yours`, 'GET /api/jobs'];

/**
 * The path on this server of what an input's id names, among the owner's objects: a dataset's folder, a model
 * version's file, or the output of a job of the type. Another user's object is a 400 with the message of a missing
 * one. With `actor` (when the job is created), a model version must also be one the actor may use.
 */
async function findInput(
  ctx: AppContext,
  owner: { userId: string; actor?: Actor },
  name: string,
  source: Source,
  id: string,
): Promise<Found> {
  const [what, list] = sourceWords(source);
  const missing = invalid(name, `names no ${what}: '${id}'; list them with ${list}`);
  if (source === 'dataset') {
    const [row] = await ctx.db
      .select({ path: datasets.path })
      .from(datasets)
      .where(and(eq(datasets.id, id), eq(datasets.userId, owner.userId)));
    if (!row) throw missing;
    return row;
  }
  if (source === 'model') {
    const model = await ctx.registry.byVersionId(id).catch(() => null);
    if (!model || (owner.actor && !visibleTo(owner.actor, model))) throw missing;
    if (model.kind !== 'model') throw invalid(name, `is an adapter, not a model: '${id}'`);
    return { path: model.path, contextLength: model.contextLength };
  }
  const [row] = await ctx.db
    .select({ state: jobs.state, result: jobs.result })
    .from(jobs)
    .where(and(eq(jobs.id, id), eq(jobs.userId, owner.userId), eq(jobs.type, source.job)));
  if (!row) throw missing;
  if (row.state !== 'succeeded')
    throw invalid(name, `names job ${id}, which has not succeeded (it is ${row.state})`);
  const product = definitions[source.job].product!;
  return { path: jobArtifact(jobDirectory(ctx.config.home, id), row.result?.[product], `params.${name}`) };
}

/** The type named, and its parameters checked against its schema with its defaults filled in; a 400 otherwise. */
export function checkJobParams(type: unknown, raw: unknown): { type: JobType; params: Params } {
  if (typeof type !== 'string' || !JOB_TYPES.includes(type as JobType))
    throw new AppError('invalid_request', `type must be one of ${JOB_TYPES.join(', ')}`, 'type');
  const jobType = type as JobType;
  if (raw !== undefined && (typeof raw !== 'object' || raw === null || Array.isArray(raw)))
    throw new AppError('invalid_request', 'params must be an object', 'params');
  const schema = schemas[jobType];
  const notParameter = (field: string) =>
    invalid(field, `is not a parameter; known: ${Object.keys(schema.properties).join(', ')}`);
  // TypeBox walks a value recursively: one nested deep enough overflowed the stack, so it is refused first.
  for (const [field, value] of Object.entries(raw ?? {}))
    if (!flat(value))
      throw Object.hasOwn(schema.properties, field) ? mustBe(jobType, field, value) : notParameter(field);
  const params = Value.Default(schema, Value.Clone(raw ?? {})) as Params;
  const error = Value.Errors(schema, params).First();
  if (error) {
    const field = error.path.split('/')[1] ?? '';
    if (error.type === ValueErrorType.ObjectAdditionalProperties) throw notParameter(field);
    if (error.type === ValueErrorType.ObjectRequiredProperty) throw invalid(field, 'is required');
    throw mustBe(jobType, field, error.value);
  }
  return { type: jobType, params };
}

/**
 * The job's parameters checked against its type's schema, its defaults filled in, the objects its inputs name
 * found among the actor's own, and the rules across settings checked. Throws a 400 naming `params.<field>`.
 */
export async function validateJobParams(options: {
  ctx: AppContext;
  actor: Actor;
  type: unknown;
  params: unknown;
}): Promise<{ type: JobType; params: Params }> {
  const { ctx, actor } = options;
  const { type: jobType, params } = checkJobParams(options.type, options.params);
  const definition = definitions[jobType];
  const found: Record<string, Found> = {};
  for (const [name, input] of Object.entries(definition.inputs))
    if (typeof params[name] === 'string')
      found[name] = await findInput(ctx, { userId: actor.userId, actor }, name, input.source, params[name]);
  definition.check?.(params, found);
  if (definition.config) resolveCommandConfig(definition.config, params, found);
  return { type: jobType, params };
}

/** The resolved config of a job's command (its inputs' paths as given), or a 400 naming the setting at fault. */
function resolveCommandConfig(
  config: ConfigFile,
  params: Params,
  found: Record<string, { path: string }>,
): unknown {
  const paths = Object.fromEntries(Object.entries(found).map(([name, input]) => [name, input.path]));
  try {
    return config.resolve(configOf(config, params, paths), 'params');
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    const field = error.field === undefined ? 'params' : `params.${camel(error.field)}`;
    throw new AppError('invalid_request', error.message, field);
  }
}

/** The studio's fine-tune config of validated finetune params, given where its base and dataset are. */
export function finetuneConfig(params: Params, base: string, data: string): FinetuneConfig {
  return resolveCommandConfig(finetuneConfigFile, params, {
    base: { path: base },
    dataset: { path: data },
  }) as FinetuneConfig;
}

type JobOf = { id: string; userId: string; type: JobType; params: Params };

/** Where the objects a job's parameters name are on this server, by input name, found among its owner's own. */
async function objectInputs(ctx: AppContext, job: JobOf): Promise<Record<string, string>> {
  const roots: Record<string, string> = {};
  for (const [name, input] of Object.entries(definitions[job.type].inputs)) {
    const id = job.params[name];
    if (typeof id === 'string') roots[name] = (await findInput(ctx, job, name, input.source, id)).path;
  }
  return roots;
}

/**
 * Where a job's inputs are on this server, by name: the objects its parameters name, found among its owner's own,
 * and its config file when its command reads one (written by `layOutJob`).
 */
export async function jobInputs(ctx: AppContext, job: JobOf): Promise<Record<string, string>> {
  const roots = await objectInputs(ctx, job);
  if (!definitions[job.type].config) return roots;
  return { ...roots, config: join(jobDirectory(ctx.config.home, job.id), JOB_CONFIG) };
}

/**
 * Lays a job out in `jobDir` for a run: its run folder, and the config file of a command that reads one (its
 * resolved settings, with its inputs' paths as they lie in the job folder, the same on every worker, so a run
 * resumes anywhere with the same config). Given where the objects it reads are, returns where all its inputs are.
 */
export function layOutJob(
  jobDir: string,
  job: { type: JobType; params: Params },
  objects: Record<string, string>,
): Record<string, string> {
  mkdirSync(join(jobDir, 'run'), { recursive: true });
  const { config } = definitions[job.type];
  if (!config) return objects;
  const found = Object.fromEntries(
    Object.entries(objects).map(([name, root]) => [name, { path: inputPath(name, root) }]),
  );
  const path = join(jobDir, JOB_CONFIG);
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, `${JSON.stringify(resolveCommandConfig(config, job.params, found), null, 2)}\n`);
  return { ...objects, config: path };
}

/**
 * Lays a claimed job out in its folder for a run, here or on a remote worker. Returns where its inputs are on
 * this server, by name (what a remote worker downloads).
 */
export async function prepareJobFolder(ctx: AppContext, job: JobOf): Promise<Record<string, string>> {
  return layOutJob(jobDirectory(ctx.config.home, job.id), job, await objectInputs(ctx, job));
}

/** `ownlm` arguments for the job, run in its folder, with its inputs where `roots` (their paths here) put them. */
export function jobArguments(
  job: { type: JobType; params: Params },
  roots: Record<string, string>,
): string[] {
  const definition = definitions[job.type];
  const paths = Object.fromEntries(
    Object.entries(roots).map(([name, root]) => [name, inputPath(name, root)]),
  );
  const args = [...definition.command, ...definition.args(paths, job.params)];
  if (!definition.config)
    for (const name of Object.keys(definition.settings)) {
      const value = job.params[name];
      if (value === undefined || value === false) continue;
      if (value === true) args.push(`--${kebab(name)}`);
      else args.push(`--${kebab(name)}`, Array.isArray(value) ? value.join(',') : String(value));
    }
  if (definition.events) args.push('--events', '-');
  return args;
}

/** What the job's result holds before the command reports anything: where its output goes. */
export function jobOutput(job: { type: JobType; params: Params }): Record<string, unknown> {
  const { output } = definitions[job.type];
  return output ? { out: output(job.params) } : {};
}

/** The files a job's result names, each as stored on this server under the job's `run/` folder; a 400 otherwise. */
export function jobArtifacts(
  home: string,
  job: { id: string; type: JobType },
  result: Record<string, unknown>,
): Record<string, string> {
  const jobDir = jobDirectory(home, job.id);
  const named = definitions[job.type].artifacts.filter(
    (key) => result[key] !== undefined && result[key] !== null,
  );
  return Object.fromEntries(named.map((key) => [key, jobArtifact(jobDir, result[key], `result.${key}`)]));
}

/** Tokens one optimizer step processes (what tokens_processed counts per train step); 0 when not training. */
export function tokensPerStep(job: { type: JobType; params: Params }): number {
  const number = (name: string) => (typeof job.params[name] === 'number' ? (job.params[name] as number) : 0);
  if (job.type === 'pretrain') return number('batchSize') * number('context') * number('gradAccumulation');
  // Fine-tuning batches are padded to the context: an upper bound of the real tokens.
  if (job.type === 'finetune') return number('batchSize') * number('context');
  return 0;
}
