import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { safetyDataDir, safetyDataFiles } from '@ownlm/studio';

const bin = join(import.meta.dirname, '..', '..', 'bin', 'ownlm.mjs');
const dir = mkdtempSync(join(tmpdir(), 'ownlm-cli-safety-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const ownlm = (args: string[]) => spawnSync(process.execPath, [bin, 'safety', ...args], { encoding: 'utf8' });

describe('ownlm safety', () => {
  it('generate-data writes the shipped datasets, byte for byte', () => {
    const out = join(dir, 'generated');
    const run = ownlm(['generate-data', '--out', out]);
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stdout, /^classifier: \d+ train \+ \d+ held-out examples; red-team suite: 640 prompts/);
    for (const name of Object.values(safetyDataFiles))
      assert.ok(readFileSync(join(out, name)).equals(readFileSync(join(safetyDataDir, name))), name);
  });

  it('train-classifier trains on a data folder, writes the weights there and prints held-out figures', () => {
    const data = join(dir, 'small');
    const head = (name: string, lines: number) =>
      writeFileSync(
        join(data, name),
        readFileSync(join(safetyDataDir, name), 'utf8')
          .split('\n')
          .filter((line, i) => line !== '' && i % 20 === 0)
          .slice(0, lines)
          .join('\n'),
      );
    mkdirSync(data);
    head(safetyDataFiles.classifierTrain, 240);
    head(safetyDataFiles.classifierHeldOut, 60);
    const run = ownlm(['train-classifier', '--data', data, '--epochs', '1', '--seed', '3']);
    assert.equal(run.status, 0, run.stderr);
    assert.ok(existsSync(join(data, 'classifier.safetensors')));
    assert.equal(
      (JSON.parse(readFileSync(join(data, 'classifier.json'), 'utf8')) as { seed: number }).seed,
      3,
    );
    assert.match(
      run.stdout,
      /held out \(60 examples of templates never trained on\):\n {2}label +support +precision +recall +F1\n {2}benign /,
    );
    assert.match(run.stdout, /harmful prompts flagged \d+\.\d%; benign prompts flagged \d+\.\d%/);
    const bad = ownlm(['train-classifier', '--data', data, '--epochs', '0']);
    assert.equal(bad.status, 1);
    assert.match(bad.stderr, /--epochs must be a positive integer, got '0'/);
  });
});
