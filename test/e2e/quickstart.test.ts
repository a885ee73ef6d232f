// The newcomer's path end to end through the real CLI: the bundled corpus is prepared, a tokenizer trained,
// shards packed, a model trained, evaluated and exported to a GGUF that llama.cpp verifies; a second run
// finds the model and only says where it is.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';

const cli = new URL('../../packages/cli/bin/ownlm.mjs', import.meta.url).pathname;
const home = mkdtempSync(join(tmpdir(), 'ownlm-quickstart-'));
after(() => rmSync(home, { recursive: true, force: true }));

function ownlm(...args: string[]) {
  return spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', timeout: 300_000 });
}

test('ownlm quickstart trains, evaluates and exports a verified GGUF; a second run reuses it', () => {
  const run = ownlm('quickstart', '--home', home, '--steps', '6', '--vocab-size', '1024');
  assert.equal(run.status, 0, run.stderr + run.stdout);
  const gguf = join(home, 'models', 'quickstart-f16.gguf');
  assert.ok(existsSync(gguf));
  assert.equal(readFileSync(gguf).subarray(0, 4).toString('latin1'), 'GGUF');
  assert.match(run.stdout, /perplexity \d+(\.\d+)?, \d\.\d+ bits per byte/);
  assert.match(run.stdout, /llama\.cpp gives the same tokens as the engine on \d+ prompts/);
  const metrics = readFileSync(join(home, 'quickstart', 'run', 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n');
  assert.equal(metrics.length, 6);

  const again = ownlm('quickstart', '--home', home);
  assert.equal(again.status, 0, again.stderr);
  assert.match(again.stdout, /The quickstart model exists/);
});

test('ownlm sample and eval run on the quickstart checkpoint', () => {
  const checkpoints = join(home, 'quickstart', 'run', 'checkpoints', 'step-0000006');
  const sample = ownlm(
    'sample',
    '--model',
    checkpoints,
    '--prompt',
    'The',
    '--max-tokens',
    '5',
    '--temperature',
    '0',
  );
  assert.equal(sample.status, 0, sample.stderr);
  assert.ok(sample.stdout.startsWith('The'));
  const text = join(home, 'held-out.txt');
  writeFileSync(text, 'The committee said on Tuesday that the new school would open in the fall.\n');
  const evaluation = ownlm('eval', '--model', checkpoints, '--text', text, '--json');
  assert.equal(evaluation.status, 0, evaluation.stderr);
  const result = JSON.parse(evaluation.stdout.trim().split('\n').pop()!) as {
    perplexity: number;
    bitsPerByte: number;
  };
  assert.ok(result.perplexity > 1 && result.bitsPerByte > 0);
});
