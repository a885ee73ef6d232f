// Each job type as an `ownlm` command: its parameters validated when the job is created (errors name the field,
// `params.<name>`), the inputs it reads on this server (what a remote worker downloads), and its arguments
// given where those inputs and the job's run folder are on the machine that runs it.
import { existsSync, mkdirSync, rmSync, statSync, symlinkSync } from 'node:fs';
import { basename, dirname, isAbsolute, join, relative, resolve } from 'node:path';
import {
  ConfigError,
  configFromFlags,
  mergeConfig,
  mergeFinetuneConfig,
  resolveConfig,
  resolveFinetuneConfig,
  trainDefaults,
  type FinetuneConfig,
} from '@ownlm/studio';
import { eq } from 'drizzle-orm';
import type { Actor } from '../auth/actor.ts';
import type { AppContext } from '../context.ts';
import { ownDataset } from '../datasets/datasets.ts';
import { datasets, type JobType } from '../db/schema.ts';
import { AppError } from '../errors.ts';
import { visibleTo } from '../registry/models.ts';

export const JOB_TYPES: readonly JobType[] = [
  'data-prepare',
  'tokenizer-train',
  'pretrain',
  'finetune',
  'eval',
  'export',
  'quickstart',
];

type Kind = 'integer' | 'number' | 'string' | 'boolean' | 'strings';

interface Option {
  kind: Kind;
  /** The command's flag; a boolean is passed as the bare flag when true. */
  flag: string;
  /** Allowed values of a string, or the smallest number. */
  values?: readonly string[];
  min?: number;
}

/** An input the command reads: a parameter naming a file or folder of this server. */
type InputKind = 'file' | 'folder';

interface TypeSpec {
  /** The words after `ownlm`. */
  command: string[];
  /** Whether the command writes `--events -` JSON lines (otherwise only its exit code and stderr count). */
  events: boolean;
  /** Parameters that are paths inside the data folder, read by the command. */
  paths: Record<string, InputKind>;
  options: Record<string, Option>;
  /** The arguments that place inputs and outputs; `inputs` holds the local path of each input. */
  layout(inputs: Record<string, string>, runDir: string, params: Record<string, unknown>): string[];
  /** Where the command's output goes (the job's `result.out`, whatever the command reports). */
  output?(runDir: string, params: Record<string, unknown>): string;
}

const camel = (key: string) => key.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());

/** Pretraining takes the training config's keys, in camelCase (batch_size → batchSize). */
const pretrainOptions: Record<string, Option> = Object.fromEntries(
  Object.entries(trainDefaults)
    .filter(([, value]) => !Array.isArray(value))
    .map(([key, value]) => [
      camel(key),
      {
        kind: typeof value === 'boolean' ? 'boolean' : typeof value === 'string' ? 'string' : 'number',
        flag: `--${key.replace(/_/g, '-')}`,
      } satisfies Option,
    ]),
);

const exportPath = (runDir: string, params: Record<string, unknown>) =>
  params.format === 'hf' ? `${runDir}/hf` : `${runDir}/model.gguf`;

const specs: Record<JobType, TypeSpec> = {
  pretrain: {
    command: ['train'],
    events: true,
    paths: { data: 'folder', tokenizer: 'folder' },
    options: pretrainOptions,
    layout: (inputs, runDir) => [
      '--data',
      inputs.data!,
      '--tokenizer',
      inputs.tokenizer!,
      '--out',
      runDir,
      '--resume',
    ],
  },
  finetune: {
    command: ['finetune'],
    events: true,
    paths: {},
    options: {
      method: { kind: 'string', flag: '--method', values: ['lora', 'full'] },
      rank: { kind: 'integer', flag: '--rank', min: 1 },
      alpha: { kind: 'number', flag: '--alpha', min: 0 },
      dropout: { kind: 'number', flag: '--lora-dropout', min: 0 },
      targets: { kind: 'strings', flag: '--targets' },
      rslora: { kind: 'boolean', flag: '--rslora' },
      lr: { kind: 'number', flag: '--lr', min: 0 },
      epochs: { kind: 'number', flag: '--epochs', min: 0 },
      steps: { kind: 'integer', flag: '--steps', min: 1 },
      batchSize: { kind: 'integer', flag: '--batch-size', min: 1 },
      context: { kind: 'integer', flag: '--context', min: 2 },
      seed: { kind: 'integer', flag: '--seed', min: 0 },
      merge: { kind: 'boolean', flag: '--merge' },
      threads: { kind: 'integer', flag: '--threads', min: 0 },
    },
    layout: (inputs, runDir) => [
      '--base',
      inputs.base!,
      '--data',
      inputs.dataset!,
      '--out',
      runDir,
      '--resume',
      ...(inputs.scenarios ? ['--scenarios', inputs.scenarios] : []),
    ],
  },
  'data-prepare': {
    command: ['data', 'prepare'],
    events: true,
    paths: { input: 'folder' },
    options: {
      minWords: { kind: 'integer', flag: '--min-words', min: 0 },
      maxWords: { kind: 'integer', flag: '--max-words', min: 1 },
      languages: { kind: 'strings', flag: '--languages' },
      validation: { kind: 'number', flag: '--validation', min: 0 },
      noNearDedup: { kind: 'boolean', flag: '--no-near-dedup' },
      noPii: { kind: 'boolean', flag: '--no-pii' },
    },
    layout: (inputs, runDir) => [inputs.input!, '--out', `${runDir}/corpus`, '--overwrite'],
    output: (runDir) => `${runDir}/corpus`,
  },
  'tokenizer-train': {
    command: ['tokenizer', 'train'],
    events: true,
    paths: { corpus: 'folder' },
    options: {
      vocabSize: { kind: 'integer', flag: '--vocab-size', min: 2 },
      minFrequency: { kind: 'integer', flag: '--min-frequency', min: 1 },
    },
    layout: (inputs, runDir) => [inputs.corpus!, '--out', `${runDir}/tokenizer`, '--force'],
    output: (runDir) => `${runDir}/tokenizer`,
  },
  export: {
    command: ['export'],
    events: true,
    paths: { model: 'folder' },
    options: {
      format: { kind: 'string', flag: '--format', values: ['gguf', 'hf'] },
      dtype: { kind: 'string', flag: '--dtype', values: ['f32', 'f16', 'bf16', 'q8_0', 'q4_0'] },
    },
    layout: (inputs, runDir, params) => [
      '--model',
      inputs.model!,
      '--out',
      exportPath(runDir, params),
      '--force',
    ],
    output: exportPath,
  },
  eval: {
    command: ['eval'],
    events: false,
    paths: { model: 'folder', corpus: 'folder' },
    options: {
      context: { kind: 'integer', flag: '--context', min: 2 },
      batch: { kind: 'integer', flag: '--batch', min: 1 },
    },
    // --json prints the scores as one JSON line, which becomes the job's result.
    layout: (inputs) => ['--model', inputs.model!, '--corpus', inputs.corpus!, '--json'],
  },
  // The whole path on the bundled demo corpus, with the run folder as its home: its GGUF lands in
  // `<run>/models/` (registered by the quickstart's completion handler, jobs/quickstart.ts).
  quickstart: {
    command: ['quickstart'],
    events: true,
    paths: {},
    options: {
      steps: { kind: 'integer', flag: '--steps', min: 1 },
      vocabSize: { kind: 'integer', flag: '--vocab-size', min: 1 },
      seed: { kind: 'integer', flag: '--seed', min: 1 },
    },
    layout: (_inputs, runDir) => ['--home', runDir],
  },
};

const invalid = (field: string, message: string) =>
  new AppError('invalid_request', `params.${field} ${message}`, `params.${field}`);

function checkOption(name: string, option: Option, value: unknown): void {
  switch (option.kind) {
    case 'boolean':
      if (typeof value !== 'boolean') throw invalid(name, 'must be true or false');
      return;
    case 'string':
      if (typeof value !== 'string' || value === '') throw invalid(name, 'must be a non-empty string');
      if (option.values && !option.values.includes(value))
        throw invalid(name, `must be one of ${option.values.join(', ')}`);
      return;
    case 'strings':
      if (!Array.isArray(value) || value.length === 0 || value.some((v) => typeof v !== 'string' || v === ''))
        throw invalid(name, 'must be a non-empty list of strings');
      return;
    default:
      if (
        typeof value !== 'number' ||
        !Number.isFinite(value) ||
        (option.kind === 'integer' && !Number.isInteger(value))
      )
        throw invalid(name, `must be ${option.kind === 'integer' ? 'a whole number' : 'a number'}`);
      if (option.min !== undefined && value < option.min)
        throw invalid(name, `must be at least ${option.min}`);
  }
}

/** A path parameter: absolute or relative to the data folder, and inside it (users cannot read the rest). */
function dataPath(home: string, name: string, kind: InputKind, value: unknown): string {
  if (typeof value !== 'string' || value === '')
    throw invalid(name, `must name a ${kind} in the data folder`);
  const path = resolve(home, value);
  const inside = relative(home, path);
  if (inside.startsWith('..') || isAbsolute(inside))
    throw invalid(name, `must be inside the data folder ${home}, got '${value}'`);
  if (!existsSync(path) || statSync(path).isDirectory() !== (kind === 'folder'))
    throw invalid(name, `names no ${kind}: '${value}'`);
  return path;
}

/**
 * The job's parameters checked against its type, with paths resolved, finetune references (base version,
 * dataset) checked for the actor, and finetune defaults filled in. Throws a 400 naming `params.<field>`.
 */
export async function validateJobParams(options: {
  ctx: AppContext;
  actor: Actor;
  type: unknown;
  params: unknown;
}): Promise<{ type: JobType; params: Record<string, unknown> }> {
  const { ctx, actor, type, params: raw } = options;
  if (typeof type !== 'string' || !JOB_TYPES.includes(type as JobType))
    throw new AppError('invalid_request', `type must be one of ${JOB_TYPES.join(', ')}`, 'type');
  const jobType = type as JobType;
  if (raw !== undefined && (typeof raw !== 'object' || raw === null || Array.isArray(raw)))
    throw new AppError('invalid_request', 'params must be an object', 'params');
  const given = { ...((raw ?? {}) as Record<string, unknown>) };
  const spec = specs[jobType];
  const params: Record<string, unknown> = jobType === 'finetune' ? { ...finetuneDefaults } : {};
  for (const [name, kind] of Object.entries(spec.paths))
    params[name] = dataPath(ctx.config.home, name, kind, given[name]);
  if (jobType === 'finetune') Object.assign(params, await finetuneReferences(ctx, actor, given));
  const known = new Set([...Object.keys(spec.paths), ...Object.keys(spec.options), ...extraKeys[jobType]]);
  for (const [name, value] of Object.entries(given)) {
    if (!known.has(name))
      throw invalid(name, `is not a ${jobType} parameter; known: ${[...known].sort().join(', ')}`);
    const option = spec.options[name];
    if (option && value !== undefined && value !== null) {
      checkOption(name, option, value);
      params[name] = value;
    }
  }
  if (jobType === 'pretrain') checkTrainConfig(params);
  if (jobType === 'finetune') finetuneConfig(params, 'params.base', 'params.dataset');
  return { type: jobType, params };
}

/** Parameters of a type that are not command options (references resolved by finetuneReferences). */
const extraKeys: Record<JobType, string[]> = {
  finetune: ['base', 'dataset', 'scenarios'],
  pretrain: [],
  'data-prepare': [],
  'tokenizer-train': [],
  export: [],
  eval: [],
  quickstart: [],
};

const finetuneDefaults = {
  method: 'lora',
  rank: 8,
  alpha: 16,
  dropout: 0.05,
  targets: ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'],
  rslora: false,
  lr: 2e-4,
  epochs: 3,
  batchSize: 4,
  seed: 1,
  merge: false,
};

async function finetuneReferences(
  ctx: AppContext,
  actor: Actor,
  given: Record<string, unknown>,
): Promise<Record<string, unknown>> {
  if (typeof given.base !== 'string') throw invalid('base', 'must be a model version id (GET /api/models)');
  let base;
  try {
    base = await ctx.registry.byVersionId(given.base);
  } catch {
    base = null;
  }
  if (!base || !visibleTo(actor, base))
    throw invalid('base', `names no model version: '${given.base}'; list them with GET /api/models`);
  if (base.kind !== 'model') throw invalid('base', `is an adapter, not a model: '${given.base}'`);
  if (typeof given.dataset !== 'string') throw invalid('dataset', 'must be a dataset id (GET /api/datasets)');
  try {
    await ownDataset(ctx, actor, given.dataset);
  } catch (error) {
    if (error instanceof AppError && error.code === 'not_found')
      throw invalid('dataset', `names no dataset of yours: '${given.dataset}'`);
    throw error;
  }
  const scenarios = given.scenarios;
  if (
    scenarios !== undefined &&
    (!Array.isArray(scenarios) || scenarios.some((s) => typeof s !== 'string' || s.trim() === ''))
  )
    throw invalid('scenarios', 'must be a list of non-empty prompts');
  return {
    base: given.base,
    dataset: given.dataset,
    ...(scenarios ? { scenarios } : {}),
    // The command's default context is the base's; named here, it also sizes the tokens a step processes.
    ...(given.context === undefined && base.contextLength ? { context: base.contextLength } : {}),
  };
}

/**
 * The studio's fine-tune config for validated finetune job params (the API's camelCase names mapped to the
 * config's keys), checked by the studio's own rules; a 400 naming the setting otherwise.
 */
export function finetuneConfig(params: Record<string, unknown>, base: string, data: string): FinetuneConfig {
  const given: Record<string, unknown> = {
    method: params.method,
    rank: params.rank,
    alpha: params.alpha,
    lora_dropout: params.dropout,
    targets: params.targets,
    rslora: params.rslora,
    lr: params.lr,
    epochs: params.epochs,
    steps: params.steps,
    batch_size: params.batchSize,
    context: params.context,
    seed: params.seed,
    merge: params.merge,
    threads: params.threads,
  };
  const defined = Object.fromEntries(Object.entries(given).filter(([, v]) => v !== undefined));
  try {
    return resolveFinetuneConfig(
      mergeFinetuneConfig({ base, data, out: 'run' }, defined, 'params'),
      'params',
    );
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    throw new AppError('invalid_request', error.message, 'params');
  }
}

/** The training config the pretrain parameters make, checked by the trainer's own rules. */
function checkTrainConfig(params: Record<string, unknown>): void {
  const flags: Record<string, string> = {};
  for (const [name, option] of Object.entries(pretrainOptions))
    if (params[name] !== undefined) flags[option.flag.slice(2)] = String(params[name]);
  try {
    resolveConfig(
      mergeConfig(
        { data: 'params.data', tokenizer: 'params.tokenizer', out: 'run' },
        configFromFlags(flags),
        'params',
      ),
      'params',
    );
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    throw new AppError('invalid_request', error.message, 'params');
  }
}

/** Where a job's inputs are on this server, by input name (a file or a folder). */
export async function jobInputs(
  ctx: AppContext,
  job: { id: string; type: JobType; params: Record<string, unknown> },
  jobDir: string,
): Promise<Record<string, string>> {
  const spec = specs[job.type];
  const inputs: Record<string, string> = {};
  for (const name of Object.keys(spec.paths)) inputs[name] = String(job.params[name]);
  if (job.type === 'finetune') {
    inputs.base = (await ctx.registry.byVersionId(String(job.params.base))).path;
    const [dataset] = await ctx.db
      .select({ path: datasets.path })
      .from(datasets)
      .where(eq(datasets.id, String(job.params.dataset)));
    if (!dataset) throw new Error(`dataset ${String(job.params.dataset)} no longer exists`);
    inputs.dataset = dataset.path;
    if (Array.isArray(job.params.scenarios)) inputs.scenarios = `${jobDir}/scenarios.json`;
  }
  return inputs;
}

/**
 * Links the job's inputs into `<jobDir>/inputs/` and returns their paths relative to the job folder, the layout
 * every worker runs a command in (local ones by links, remote ones by downloads): a run resumed on another
 * machine then names its inputs exactly as the run that wrote the checkpoint did.
 */
export function linkJobInputs(jobDir: string, roots: Record<string, string>): Record<string, string> {
  const layout: Record<string, string> = {};
  for (const [name, path] of Object.entries(roots)) {
    const relativePath = statSync(path).isDirectory() ? `inputs/${name}` : `inputs/${name}/${basename(path)}`;
    const link = join(jobDir, relativePath);
    mkdirSync(dirname(link), { recursive: true });
    rmSync(link, { force: true });
    symlinkSync(path, link);
    layout[name] = relativePath;
  }
  return layout;
}

/** `ownlm` arguments for the job, given the local paths of its inputs and its run folder. */
export function jobArguments(
  job: { type: JobType; params: Record<string, unknown> },
  inputs: Record<string, string>,
  runDir: string,
): string[] {
  const spec = specs[job.type];
  const args = [...spec.command, ...spec.layout(inputs, runDir, job.params)];
  for (const [name, option] of Object.entries(spec.options)) {
    const value = job.params[name];
    if (value === undefined || value === null) continue;
    if (option.kind === 'boolean') {
      if (value === true) args.push(option.flag);
    } else if (option.kind === 'strings') args.push(option.flag, (value as string[]).join(','));
    else args.push(option.flag, String(value));
  }
  if (spec.events) args.push('--events', '-');
  return args;
}

/** What the job's result holds before the command reports anything: where its output goes. */
export function jobOutput(
  job: { type: JobType; params: Record<string, unknown> },
  runDir: string,
): Record<string, unknown> {
  const output = specs[job.type].output;
  return output ? { out: output(runDir, job.params) } : {};
}

/** Tokens one optimizer step processes (what tokens_processed counts per train step); 0 when not training. */
export function tokensPerStep(job: { type: JobType; params: Record<string, unknown> }): number {
  const number = (name: string, fallback: number) =>
    typeof job.params[name] === 'number' ? (job.params[name] as number) : fallback;
  if (job.type === 'pretrain')
    return (
      number('batchSize', trainDefaults.batch_size) *
      number('context', trainDefaults.context) *
      number('gradAccumulation', trainDefaults.grad_accumulation)
    );
  // Fine-tuning batches are padded to the context: an upper bound of the real tokens.
  if (job.type === 'finetune') return number('batchSize', 4) * number('context', 0);
  return 0;
}
