import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { quickstartStages } from './quickstart.ts';

const bin = join(import.meta.dirname, '..', '..', 'bin', 'ownlm.mjs');
const ownlm = (args: string[]) => spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8' });
const home = mkdtempSync(join(tmpdir(), 'ownlm-cli-quickstart-'));
after(() => rmSync(home, { recursive: true, force: true }));

test('quickstart --events - keeps stdout to JSON lines and writes the lineage beside the GGUF', () => {
  const run = ownlm(['quickstart', '--home', home, '--steps', '4', '--vocab-size', '512', '--events', '-']);
  assert.equal(run.status, 0, run.stderr);
  const events = run.stdout
    .trimEnd()
    .split('\n')
    .map((line) => {
      assert.doesNotThrow(() => JSON.parse(line), `a JSON line: ${line}`);
      return JSON.parse(line) as { type: string; [key: string]: unknown };
    });
  assert.deepEqual(
    events.filter((e) => e.type === 'quickstart-stage'),
    quickstartStages.map((stage, i) => ({ type: 'quickstart-stage', index: i + 1, total: 6, stage })),
  );
  assert.deepEqual(
    events.filter((e) => e.type === 'train-step').map((e) => e.step),
    [1, 2, 3, 4],
  );
  assert.ok(events.some((e) => e.type === 'quickstart-progress' && e.phase === 'encode'));
  const done = events.at(-1)!;
  const gguf = join(home, 'models', 'quickstart-f16.gguf');
  assert.equal(done.type, 'quickstart-done');
  assert.equal(done.model, gguf);
  assert.equal(done.existing, false);
  assert.ok(existsSync(gguf));
  assert.match(run.stderr, /6\/6 export a GGUF/);
  const lineage = JSON.parse(readFileSync(`${gguf}.lineage.json`, 'utf8'));
  assert.equal(lineage.trainedBy, 'ownlm quickstart');
  assert.equal(lineage.corpus, join(home, 'quickstart', 'corpus'));
  assert.equal(lineage.tokenizer, join(home, 'quickstart', 'tokenizer'));
  assert.match(lineage.checkpoint, /step-0000004$/);
  assert.deepEqual([lineage.steps, lineage.seed, lineage.vocabSize], [4, 1, 512]);
  assert.equal(lineage.evaluation.perplexity, done.perplexity);
  assert.equal(lineage.evaluation.bitsPerByte, done.bitsPerByte);
  assert.ok(lineage.evaluation.tokens > 0);
  assert.ok(!Number.isNaN(Date.parse(lineage.createdAt)));

  // The model exists: no training, one quickstart-done (here into a file) with the evaluation from the lineage.
  const file = join(home, 'events.jsonl');
  const again = ownlm(['quickstart', '--home', home, '--events', file]);
  assert.equal(again.status, 0, again.stderr);
  assert.match(again.stdout, /The quickstart model exists/);
  assert.deepEqual(JSON.parse(readFileSync(file, 'utf8')), { ...done, existing: true });
});
