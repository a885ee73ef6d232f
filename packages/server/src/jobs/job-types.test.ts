// Each job type's command run by the real `ownlm` commands in its job folder, chained as a user would: prepare a
// corpus from a conversation dataset, train a tokenizer on it, pack it, pretrain a few steps on the config file the
// server writes, evaluate and export the checkpoint. What each run reports (its events, its result or its output
// folder, relative to the job folder) is what the job manager stores.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Random } from '@ownlm/engine';
import type { JobType } from '../db/schema.ts';
import { runJobCommand, type CommandOutcome } from './child.ts';
import type { JobEventInput } from './events.ts';
import { JOB_CONFIG, linkJobInputs } from './job-folder.ts';
import { jobArguments, jobOutput, layOutJob } from './job-types.ts';
import { tinyPretrain } from './testing.ts';

describe('job commands', () => {
  const home = mkdtempSync(join(tmpdir(), 'ownlm-job-commands-'));
  const dataset = join(home, 'datasets', 'ds_1');
  const outputs: Partial<Record<JobType, string>> = {};

  before(() => {
    // A conversation dataset as uploads store it: one conversation per line, answers of varied sentences.
    const random = new Random(3);
    const pick = (words: string[]) => words[random.int(words.length)];
    const sentence = () =>
      `${pick(['the cat', 'a dog', 'my friend', 'the old man', 'our teacher', 'a bird'])} ` +
      `${pick(['sees', 'likes', 'finds', 'follows', 'draws', 'calls'])} ` +
      `${pick(['the river', 'a red ball', 'the garden', 'some bread', 'the moon', 'a small house'])}.`;
    const conversation = (i: number) => ({
      messages: [
        { role: 'user', content: `Tell me story ${i}.` },
        { role: 'assistant', content: Array.from({ length: 12 }, sentence).join(' ') },
      ],
    });
    mkdirSync(dataset, { recursive: true });
    const lines = (from: number, count: number) =>
      Array.from({ length: count }, (_, i) => JSON.stringify(conversation(from + i))).join('\n');
    writeFileSync(join(dataset, 'train.jsonl'), `${lines(0, 180)}\n`);
    writeFileSync(join(dataset, 'validation.jsonl'), `${lines(1000, 20)}\n`);
    writeFileSync(join(dataset, 'dataset.json'), '{}\n');
  });
  after(() => rmSync(home, { recursive: true, force: true }));

  /**
   * Runs the job's command in its folder as a local worker does, its inputs (by name, their paths) linked in; the
   * outcome, its result merged over the output, and its events.
   */
  async function run(
    type: JobType,
    params: Record<string, unknown>,
    objects: Record<string, string>,
  ): Promise<{ outcome: CommandOutcome; result: Record<string, unknown>; events: JobEventInput[] }> {
    const jobDir = join(home, 'jobs', type);
    const roots = layOutJob(jobDir, { type, params }, objects);
    linkJobInputs(jobDir, roots);
    const events: JobEventInput[] = [];
    const command = runJobCommand(jobArguments({ type, params }, roots), {
      cwd: jobDir,
      onEvents: (batch) => events.push(...batch),
    });
    const outcome = await command.done;
    assert.equal(outcome.code, 0, `${type}: ${outcome.error}`);
    const result = { ...jobOutput({ type, params }), ...outcome.result };
    const out = result.out ?? result.checkpoint;
    if (typeof out === 'string') outputs[type] = join(jobDir, out);
    return { outcome, result, events };
  }

  test('data-prepare on a dataset, then tokenizer-train and data-pack on its corpus', async () => {
    const prepared = await run('data-prepare', { minWords: 5, validation: 0.1 }, { dataset });
    assert.equal(prepared.result.out, 'run/corpus');
    const corpus = outputs['data-prepare']!;
    assert.ok(existsSync(join(corpus, 'train.jsonl')) && existsSync(join(corpus, 'report.json')));
    const first = JSON.parse(readFileSync(join(corpus, 'train.jsonl'), 'utf8').split('\n')[0]!);
    assert.match(first.text, /^Tell me story \d+\.\n\n/, "a conversation's text is its messages' contents");
    assert.ok(
      prepared.events.some((e) => e.type === 'log'),
      'its printed summary is logged',
    );
    assert.deepEqual(
      prepared.events.filter((e) => e.type !== 'log'),
      [
        { type: 'progress', data: { stage: 'read' } },
        { type: 'progress', data: { stage: 'write' } },
        { type: 'artifact', data: { kind: 'corpus', path: 'run/corpus' } },
      ],
    );
    const documents = prepared.result.documents as { train: number; validation: number };
    assert.ok(documents.train > 0 && documents.validation > 0, JSON.stringify(documents));

    const tokenizer = await run('tokenizer-train', { vocabSize: 300 }, { corpus });
    assert.equal(tokenizer.result.out, 'run/tokenizer');
    assert.ok(existsSync(join(outputs['tokenizer-train']!, 'tokenizer.json')));
    assert.equal(tokenizer.result.vocabSize, 300);
    assert.ok(tokenizer.events.some((e) => e.type === 'artifact' && e.data.kind === 'tokenizer'));

    const packed = await run('data-pack', {}, { corpus, tokenizer: outputs['tokenizer-train']! });
    assert.equal(packed.result.out, 'run/shards');
    assert.ok(existsSync(join(outputs['data-pack']!, 'index.json')));
  });

  test('pretrain on its config file reports steps, checkpoints and its end; eval and export take the checkpoint', async () => {
    const trained = await run(
      'pretrain',
      { ...tinyPretrain, steps: 8 },
      { data: outputs['data-pack']!, tokenizer: outputs['tokenizer-train']! },
    );
    const config = JSON.parse(readFileSync(join(home, 'jobs', 'pretrain', JOB_CONFIG), 'utf8'));
    assert.deepEqual(
      [config.data, config.tokenizer, config.out, config.steps, config.hidden_size, config.schedule],
      ['inputs/data', 'inputs/tokenizer', 'run', 8, 32, 'cosine'],
      "the resolved settings, the inputs' places in the job folder",
    );
    assert.equal(trained.events.filter((e) => e.type === 'metrics' && 'loss' in e.data).length, 8);
    assert.deepEqual(
      trained.events.filter((e) => e.type === 'checkpoint').map((e) => [e.data.step, e.data.dir]),
      [
        [4, 'run/checkpoints/step-0000004'],
        [8, 'run/checkpoints/step-0000008'],
      ],
    );
    assert.equal(trained.result.step, 8);
    assert.equal(trained.result.checkpoint, 'run/checkpoints/step-0000008');
    const checkpoint = outputs.pretrain!;
    assert.ok(existsSync(join(checkpoint, 'model.safetensors')));

    const evaluated = await run(
      'eval',
      { batch: 2 },
      { model: checkpoint, corpus: outputs['data-prepare']! },
    );
    const scores = JSON.stringify(evaluated.result);
    assert.match(scores, /perplexity/i, scores);

    const exported = await run('export', { format: 'gguf', dtype: 'f32' }, { model: checkpoint });
    assert.equal(exported.result.out, 'run/model.gguf');
    assert.ok(existsSync(outputs.export!));
    assert.equal(exported.result.verified, true);
    assert.deepEqual(
      exported.events.filter((e) => e.type === 'artifact'),
      [{ type: 'artifact', data: { kind: 'gguf', path: 'run/model.gguf' } }],
    );
  });
});
