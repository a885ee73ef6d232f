// Training checkpoints: model weights, optimizer moments and trainer state in one folder per step.
//
// A checkpoint is written into a `.partial-*` folder (every file fsynced) and renamed to `step-NNNNNNN` only
// when complete, so a crash never leaves a half checkpoint under a final name. trainer-state.json, written
// last, records each file's size and SHA-256; loading checks them, so a truncated or bit-flipped file is
// caught and the previous good checkpoint is used instead. The weights file uses Hugging Face tensor names,
// with config.json and the tokenizer files beside it, so a checkpoint folder is also a Hugging Face model folder.
import { createHash } from 'node:crypto';
import {
  copyFileSync,
  existsSync,
  writeFileSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  renameSync,
  rmSync,
  statSync,
} from 'node:fs';
import { join } from 'node:path';
import type { AdamW, AdamWState, LlamaConfig, LlamaModel, Random, RandomState, Tensor } from '@ownlm/engine';
import { ConfigError } from '../config-table.ts';
import { FormatError } from '../formats/errors.ts';
import { TOKENIZER_FILES, hfConfigJson, sortedJson } from '../formats/hf-folder.ts';
import { readSafetensors, writeAtomically, writeSafetensors } from '../formats/safetensors.ts';
import type { Tokenizer } from '../tokenizer/tokenizer.ts';
import type { TrainConfig } from './config.ts';

export const CHECKPOINT_FILES = {
  model: 'model.safetensors',
  optimizer: 'optimizer.safetensors',
  state: 'trainer-state.json',
} as const;

/** The trainer state of a run; C is its config (TrainConfig for pretraining, FinetuneConfig for fine-tunes). */
export interface TrainerState<C = TrainConfig> {
  format: 'ownlm-checkpoint';
  version: 1;
  /** Optimizer steps completed. */
  step: number;
  config: C;
  modelConfig: LlamaConfig;
  tokenizerSha256: string;
  /** State of the dropout generator after `step` steps. */
  randomState: RandomState;
  validationLoss: number | null;
  /** Training wall time so far, carried across resumes. */
  elapsedSeconds: number;
  files: Record<string, { bytes: number; sha256: string }>;
}

export interface LoadedCheckpoint<C = TrainConfig> {
  dir: string;
  state: TrainerState<C>;
  weights: Map<string, Float32Array>;
  optimizer: AdamWState;
}

function sha256File(path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}

export function checkpointsDir(runDir: string): string {
  return join(runDir, 'checkpoints');
}

function stepName(step: number): string {
  return `step-${String(step).padStart(7, '0')}`;
}

/** Final checkpoint folders of a run, newest first. */
export function listCheckpoints(runDir: string): string[] {
  const dir = checkpointsDir(runDir);
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((name) => /^step-\d{7,}$/.test(name))
    .sort()
    .reverse()
    .map((name) => join(dir, name));
}

/** Removes `.partial-*` folders left by a crash during a checkpoint write. */
function removePartialCheckpoints(runDir: string): void {
  const dir = checkpointsDir(runDir);
  if (!existsSync(dir)) return;
  for (const name of readdirSync(dir))
    if (name.startsWith('.partial-')) rmSync(join(dir, name), { recursive: true, force: true });
}

export interface SaveInput<C = TrainConfig> {
  model: LlamaModel;
  /** The tensors saved as model.safetensors (default: every model parameter; a LoRA run saves its adapter). */
  weights?: ReadonlyMap<string, Tensor>;
  optimizer: AdamW;
  state: Omit<TrainerState<C>, 'format' | 'version' | 'files'>;
  tokenizer: Tokenizer;
  tokenizerDir: string;
}

/** Writes a checkpoint for state.step and returns its folder. */
export function saveCheckpoint<C>(runDir: string, input: SaveInput<C>): string {
  const parent = checkpointsDir(runDir);
  mkdirSync(parent, { recursive: true });
  const name = stepName(input.state.step);
  const partial = join(parent, `.partial-${name}-${process.pid}`);
  rmSync(partial, { recursive: true, force: true });
  mkdirSync(partial);

  writeSafetensors(
    join(partial, CHECKPOINT_FILES.model),
    [...(input.weights ?? input.model.parameters)].map(([tensorName, t]) => ({
      name: tensorName,
      dtype: 'F32' as const,
      shape: t.shape,
      data: t.data,
    })),
  );
  const moments = input.optimizer.state().moments;
  const optimizerTensors = [...moments].flatMap(([tensorName, { m, v }]) => [
    { name: `exp_avg.${tensorName}`, dtype: 'F32' as const, shape: [m.length], data: m },
    { name: `exp_avg_sq.${tensorName}`, dtype: 'F32' as const, shape: [v.length], data: v },
  ]);
  writeSafetensors(join(partial, CHECKPOINT_FILES.optimizer), optimizerTensors, {
    format: 'pt',
    step: String(input.optimizer.stepCount),
  });
  writeAtomically(join(partial, 'config.json'), [
    Buffer.from(sortedJson(hfConfigJson(input.model.config, input.tokenizer, 'f32'))),
  ]);
  for (const file of TOKENIZER_FILES) {
    const source = join(input.tokenizerDir, file);
    if (existsSync(source)) copyFileSync(source, join(partial, file));
  }

  const files: TrainerState['files'] = {};
  for (const file of readdirSync(partial)) {
    const path = join(partial, file);
    files[file] = { bytes: statSync(path).size, sha256: sha256File(path) };
  }
  const state: TrainerState<C> = { format: 'ownlm-checkpoint', version: 1, ...input.state, files };
  writeAtomically(join(partial, CHECKPOINT_FILES.state), [
    Buffer.from(`${JSON.stringify(state, null, 2)}\n`),
  ]);

  const final = join(parent, name);
  rmSync(final, { recursive: true, force: true });
  renameSync(partial, final);
  return final;
}

/** Why a checkpoint folder cannot be resumed from (the trainer then tries the one before it). */
export type CheckpointErrorCode =
  /** trainer-state.json is missing, unreadable, or not an ownlm trainer state. */
  | 'not-a-checkpoint'
  /** A file the trainer state records is not in the folder. */
  | 'missing-file'
  /** A file's size or SHA-256 differs from the record, or it holds tensors no checkpoint writes. */
  | 'corrupted';

export class CheckpointError extends Error {
  constructor(
    readonly code: CheckpointErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'CheckpointError';
  }
}

/** Reads and verifies one checkpoint folder; throws CheckpointError naming the file that is wrong. */
export function loadCheckpoint<C = TrainConfig>(dir: string): LoadedCheckpoint<C> {
  const statePath = join(dir, CHECKPOINT_FILES.state);
  let state: TrainerState<C>;
  try {
    state = JSON.parse(readFileSync(statePath, 'utf8')) as TrainerState<C>;
  } catch (error) {
    throw new CheckpointError('not-a-checkpoint', `${statePath}: unreadable (${(error as Error).message})`);
  }
  if (state.format !== 'ownlm-checkpoint' || typeof state.files !== 'object' || state.files === null) {
    throw new CheckpointError('not-a-checkpoint', `${statePath}: not an ownlm trainer state`);
  }
  for (const required of [CHECKPOINT_FILES.model, CHECKPOINT_FILES.optimizer]) {
    if (!state.files[required])
      throw new CheckpointError('not-a-checkpoint', `${statePath}: no checksum for ${required}`);
  }
  for (const [file, expected] of Object.entries(state.files)) {
    const path = join(dir, file);
    if (!existsSync(path)) throw new CheckpointError('missing-file', `${path}: missing`);
    const bytes = statSync(path).size;
    if (bytes !== expected.bytes)
      throw new CheckpointError(
        'corrupted',
        `${path}: ${bytes} bytes, the checkpoint recorded ${expected.bytes} (truncated or replaced)`,
      );
    if (sha256File(path) !== expected.sha256)
      throw new CheckpointError(
        'corrupted',
        `${path}: SHA-256 does not match the checkpoint record (corrupted)`,
      );
  }
  const weights = new Map<string, Float32Array>();
  for (const [name, t] of readSafetensors(join(dir, CHECKPOINT_FILES.model)).tensors)
    weights.set(name, Float32Array.from(t.toFloat32()));
  const moments = new Map<string, { m: Float32Array; v: Float32Array }>();
  const optimizerFile = readSafetensors(join(dir, CHECKPOINT_FILES.optimizer));
  for (const [name, t] of optimizerFile.tensors) {
    const [kind, ...rest] = name.split('.');
    const param = rest.join('.');
    const entry = moments.get(param) ?? { m: new Float32Array(0), v: new Float32Array(0) };
    if (kind === 'exp_avg') entry.m = Float32Array.from(t.toFloat32());
    else if (kind === 'exp_avg_sq') entry.v = Float32Array.from(t.toFloat32());
    else
      throw new CheckpointError(
        'corrupted',
        `${join(dir, CHECKPOINT_FILES.optimizer)}: unexpected tensor "${name}"`,
      );
    moments.set(param, entry);
  }
  return {
    dir,
    state,
    weights,
    optimizer: { step: Number(optimizerFile.metadata?.step ?? state.step), moments },
  };
}

/** The newest checkpoint that verifies; each rejected one is reported through `onRejected`. */
export function loadLatestCheckpoint<C = TrainConfig>(
  runDir: string,
  onRejected: (dir: string, reason: string) => void,
): LoadedCheckpoint<C> | null {
  for (const dir of listCheckpoints(runDir)) {
    try {
      return loadCheckpoint<C>(dir);
    } catch (error) {
      if (!(error instanceof CheckpointError) && !(error instanceof FormatError)) throw error;
      onRejected(dir, error.message);
    }
  }
  return null;
}

/** The checkpoint folder with the lowest recorded validation loss, if any has one. */
function bestByValidation(dirs: string[]): string | null {
  let best: { dir: string; loss: number } | null = null;
  for (const dir of dirs) {
    try {
      const state = JSON.parse(readFileSync(join(dir, CHECKPOINT_FILES.state), 'utf8')) as TrainerState;
      if (state.validationLoss !== null && (best === null || state.validationLoss < best.loss))
        best = { dir, loss: state.validationLoss };
    } catch {
      // An unreadable state cannot be the best.
    }
  }
  return best?.dir ?? null;
}

/** Keeps the `keep` newest checkpoints and the one with the best validation loss; deletes the rest. */
export function pruneCheckpoints(runDir: string, keep: number): void {
  const all = listCheckpoints(runDir);
  const best = bestByValidation(all);
  for (const dir of all.slice(keep)) if (dir !== best) rmSync(dir, { recursive: true, force: true });
}

/** The folder of the best checkpoint by validation loss, or the newest when none has one. */
export function bestCheckpoint(runDir: string): string | null {
  const all = listCheckpoints(runDir);
  return bestByValidation(all) ?? all[0] ?? null;
}

/**
 * Puts a run back where a checkpoint left it: the trained tensors (every weight, or a LoRA run's adapter),
 * the optimizer's moments and the dropout generator.
 */
export function restoreCheckpoint<C>(
  resumed: LoadedCheckpoint<C>,
  weights: ReadonlyMap<string, Tensor>,
  optimizer: AdamW,
  random: Random,
): void {
  for (const [name, p] of weights) {
    const saved = resumed.weights.get(name);
    if (!saved || saved.length !== p.size)
      throw new ConfigError(
        'resume-mismatch',
        `${resumed.dir}: weights for ${name} are missing or have the wrong size`,
      );
    p.data.set(saved);
  }
  optimizer.loadState(resumed.optimizer);
  random.setState(resumed.state.randomState);
}

/** The run's metrics.jsonl: kept through the resumed step (later steps are recomputed) or started empty. */
export function startMetrics(runDir: string, resumedStep: number | null): string {
  const path = join(runDir, 'metrics.jsonl');
  if (resumedStep === null) writeFileSync(path, '');
  else truncateMetrics(path, resumedStep);
  return path;
}

/** Keeps metrics.jsonl lines of steps ≤ step (the steps after a checkpoint are recomputed on resume). */
function truncateMetrics(path: string, step: number): void {
  if (!existsSync(path)) return;
  const kept = readFileSync(path, 'utf8')
    .split('\n')
    .filter((line) => {
      if (!line) return false;
      try {
        return (JSON.parse(line) as { step: number }).step <= step;
      } catch {
        return false;
      }
    });
  writeFileSync(path, kept.map((l) => `${l}\n`).join(''));
}

/** Refuses to resume when a key that changes what is computed differs from the value the run started with. */
function checkResumable<C>(resumed: LoadedCheckpoint<C>, config: C, keys: readonly (keyof C)[]): void {
  for (const key of keys) {
    if (JSON.stringify(resumed.state.config[key]) !== JSON.stringify(config[key])) {
      throw new ConfigError(
        'resume-mismatch',
        `${resumed.dir}: cannot resume with ${String(key)} = ${JSON.stringify(config[key])}; the run started with ${JSON.stringify(resumed.state.config[key])}`,
      );
    }
  }
}

/**
 * Clears the half-written checkpoints a crash left in a run folder and, when resuming, returns the newest one
 * that verifies (each rejected one is reported through `onRejected`), checked to have been started with the
 * same value of every key in `computeKeys`; null for a fresh start.
 */
export function resumableCheckpoint<C>(
  runDir: string,
  options: {
    resume: boolean;
    config: C;
    computeKeys: readonly (keyof C)[];
    onRejected: (dir: string, reason: string) => void;
  },
): LoadedCheckpoint<C> | null {
  removePartialCheckpoints(runDir);
  if (!options.resume) return null;
  const resumed = loadLatestCheckpoint<C>(runDir, options.onRejected);
  if (resumed) checkResumable(resumed, options.config, options.computeKeys);
  return resumed;
}
