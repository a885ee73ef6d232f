// Each job type's arguments run by the real `ownlm` commands, chained as a user would: prepare a corpus,
// train a tokenizer on it, pretrain a few steps, evaluate and export the checkpoint. What each run reports
// (its events, its result or its output folder) is what the job manager stores.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { JobType } from '../db/schema.ts';
import { runJobCommand, type CommandOutcome } from './child.ts';
import { jobArguments, jobOutput } from './commands.ts';
import type { JobEventInput } from './events.ts';
import { pretrainInputs, tinyPretrain } from './testing.ts';

describe('job commands', () => {
  const home = mkdtempSync(join(tmpdir(), 'ownlm-job-commands-'));
  let inputs: { data: string; tokenizer: string };
  let checkpoint: string;

  before(async () => {
    inputs = await pretrainInputs(home);
  });
  after(() => rmSync(home, { recursive: true, force: true }));

  /** Runs the job's command as a worker would; the outcome (result merged over the output) and its events. */
  async function run(
    type: JobType,
    params: Record<string, unknown>,
    roots: Record<string, string>,
  ): Promise<{ outcome: CommandOutcome; result: Record<string, unknown>; events: JobEventInput[] }> {
    // The run folder exists before the command starts, as the workers make it.
    const runDir = join(home, 'jobs', type, 'run');
    mkdirSync(runDir, { recursive: true });
    const events: JobEventInput[] = [];
    const command = runJobCommand(jobArguments({ type, params }, roots, runDir), {
      onEvents: (batch) => events.push(...batch),
    });
    const outcome = await command.done;
    assert.equal(outcome.code, 0, `${type}: ${outcome.error}`);
    return { outcome, result: { ...jobOutput({ type, params }, runDir), ...outcome.result }, events };
  }

  test('data-prepare, then tokenizer-train on its corpus', async () => {
    const corpus = join(home, 'data', 'corpus');
    const prepared = await run('data-prepare', { minWords: 5, validation: 0.1 }, { input: corpus });
    const out = String(prepared.result.out);
    assert.ok(existsSync(join(out, 'train.jsonl')) && existsSync(join(out, 'report.json')));
    assert.ok(
      prepared.events.some((e) => e.type === 'log'),
      'its printed summary is logged',
    );
    assert.deepEqual(
      prepared.events.filter((e) => e.type !== 'log'),
      [
        { type: 'progress', data: { stage: 'read' } },
        { type: 'progress', data: { stage: 'write' } },
        { type: 'artifact', data: { kind: 'corpus', path: out } },
      ],
    );
    const documents = prepared.result.documents as { train: number; validation: number };
    assert.ok(documents.train > 0 && documents.validation > 0, JSON.stringify(documents));

    const tokenizer = await run('tokenizer-train', { vocabSize: 300 }, { corpus: out });
    assert.ok(existsSync(join(String(tokenizer.result.out), 'tokenizer.json')));
    assert.equal(tokenizer.result.vocabSize, 300);
    assert.ok(tokenizer.events.some((e) => e.type === 'artifact' && e.data.kind === 'tokenizer'));
  });

  test('pretrain reports steps, checkpoints and its end; eval and export take the checkpoint', async () => {
    const trained = await run('pretrain', { ...tinyPretrain, steps: 8 }, inputs);
    assert.equal(trained.events.filter((e) => e.type === 'metrics' && 'loss' in e.data).length, 8);
    assert.deepEqual(
      trained.events.filter((e) => e.type === 'checkpoint').map((e) => e.data.step),
      [4, 8],
    );
    assert.equal(trained.result.step, 8);
    checkpoint = String(trained.result.checkpoint);
    assert.ok(existsSync(join(checkpoint, 'model.safetensors')));

    const evaluated = await run(
      'eval',
      { batch: 2 },
      { model: checkpoint, corpus: join(home, 'data', 'corpus') },
    );
    const scores = JSON.stringify(evaluated.result);
    assert.match(scores, /perplexity/i, scores);

    const exported = await run('export', { format: 'gguf', dtype: 'f32' }, { model: checkpoint });
    assert.match(String(exported.result.out), /model\.gguf$/);
    assert.ok(existsSync(String(exported.result.out)));
    assert.equal(exported.result.verified, true);
    assert.deepEqual(
      exported.events.filter((e) => e.type === 'artifact'),
      [{ type: 'artifact', data: { kind: 'gguf', path: exported.result.out } }],
    );
  });
});
