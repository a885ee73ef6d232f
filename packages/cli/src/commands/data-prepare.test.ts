import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';

const bin = join(import.meta.dirname, '..', '..', 'bin', 'ownlm.mjs');

// Runs the real command from a folder outside the repository, so the worker threads must find tsx on their own.
function ownlm(args: string[], cwd: string) {
  return spawnSync(process.execPath, [bin, 'data', 'prepare', ...args], { cwd, encoding: 'utf8' });
}

describe('ownlm data prepare', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ownlm-cli-prepare-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('prepares a folder with worker threads and prints a summary', () => {
    const topics = [
      'boats and nets on the harbour',
      'bread and cheese at the market',
      'snow and ice on the mountain pass',
    ];
    topics.forEach((topic, i) => {
      const text = `This is a short story about ${topic}. It goes on for a while, telling of the people who came and went, of what they said on long evenings by the fire when the work was done, and of the year the river froze.`;
      writeFileSync(join(dir, `doc${i}.txt`), text);
    });
    writeFileSync(join(dir, 'later-copy.txt'), readFileSync(join(dir, 'doc0.txt')));
    const result = ownlm(['.', '-o', 'out', '--workers', '2', '--min-words', '20', '--validation', '0'], dir);
    assert.equal(result.status, 0, result.stderr);
    assert.match(result.stdout, /documents: 4 in → 3 train \+ 0 validation/);
    assert.match(result.stdout, /duplicates: 1 exact/);
    const lines = readFileSync(join(dir, 'out', 'train.jsonl'), 'utf8')
      .trim()
      .split('\n');
    assert.deepEqual(lines.map((l) => (JSON.parse(l) as { source: string }).source).sort(), [
      'doc0.txt',
      'doc1.txt',
      'doc2.txt',
    ]);
  });

  it('exits 2 with usage when --out or inputs are missing, 0 for --help', () => {
    assert.equal(ownlm(['.'], dir).status, 2);
    const help = ownlm(['--help'], dir);
    assert.equal(help.status, 0);
    assert.match(help.stdout, /usage: ownlm data prepare/);
  });

  it('names the file and line of bad input and exits 1', () => {
    writeFileSync(join(dir, 'bad.jsonl'), '{"text": "fine"}\n{"txt": "oops"}\n');
    const result = ownlm(['bad.jsonl', '-o', 'never'], dir);
    assert.equal(result.status, 1);
    assert.match(result.stderr, /bad\.jsonl:2: field "text" is missing/);
  });
});
