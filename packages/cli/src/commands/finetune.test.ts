import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { writeTinyBase, writeVoiceDataset } from '../../../studio/src/finetune/finetune-fixture.ts';

const bin = join(import.meta.dirname, '..', '..', 'bin', 'ownlm.mjs');
const ownlm = (args: string[]) => spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8' });

type Event = { type: string; [key: string]: unknown };
const parseEvents = (stdout: string): Event[] =>
  stdout
    .trimEnd()
    .split('\n')
    .map((line) => {
      assert.doesNotThrow(() => JSON.parse(line), `a JSON line: ${line}`);
      return JSON.parse(line) as Event;
    });

describe('ownlm finetune', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ownlm-cli-finetune-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  let common: string[];
  before(async () => {
    const base = await writeTinyBase(dir);
    const data = writeVoiceDataset(dir, 24, 6);
    const scenarios = join(dir, 'scenarios.txt');
    writeFileSync(scenarios, 'Who comes after Clara?\nWho comes after Jonas?\n');
    // Settings also accepted from YAML: the flags override them (steps 10 over 99).
    writeFileSync(join(dir, 'run.yaml'), 'steps: 99\nbatch_size: 4\nlr: 0.01\nscenario_tokens: 12\n');
    common = [
      'finetune',
      '--base',
      base,
      '--data',
      data,
      '--config',
      join(dir, 'run.yaml'),
      '--steps',
      '10',
      '--checkpoint-every',
      '3',
      '--threads',
      '1',
      '--targets',
      'q_proj,v_proj,down_proj',
      '--scenarios',
      scenarios,
      '--events',
      '-',
    ];
  });

  it('--events - keeps stdout to JSON lines, ends with finetune-done, and the tuned model beats the base', () => {
    const out = join(dir, 'run');
    const run = ownlm([...common, '--out', out, '--merge']);
    assert.equal(run.status, 0, run.stderr);
    const events = parseEvents(run.stdout);
    assert.deepEqual(
      events.filter((e) => e.type === 'train-step').map((e) => e.step),
      [1, 2, 3, 4, 5, 6, 7, 8, 9, 10],
    );
    assert.deepEqual(events.at(-1), {
      type: 'finetune-done',
      out,
      adapterGguf: join(out, 'adapter.gguf'),
      baseGguf: join(out, 'base.gguf'),
      mergedGguf: join(out, 'merged.gguf'),
      peftAdapter: join(out, 'adapter'),
      report: join(out, 'report.json'),
    });
    for (const file of ['adapter.gguf', 'base.gguf', 'merged.gguf', 'merged/config.json', 'report.html'])
      assert.ok(existsSync(join(out, file)), file);
    const peft = JSON.parse(readFileSync(join(out, 'adapter', 'adapter_config.json'), 'utf8'));
    assert.deepEqual(peft.target_modules, ['q_proj', 'v_proj', 'down_proj']);
    const report = JSON.parse(readFileSync(join(out, 'report.json'), 'utf8'));
    assert.ok(report.perplexity.tuned < report.perplexity.base, JSON.stringify(report.perplexity));
    assert.deepEqual(
      report.scenarios.map((s: { prompt: string }) => s.prompt),
      ['Who comes after Clara?', 'Who comes after Jonas?'],
    );
    assert.match(run.stderr, /6\/6 write the report/);
    assert.match(run.stderr, /held-out assistant perplexity: base \d+\.\d+ → tuned \d+\.\d+/);
  });

  it('killed with SIGKILL mid-run, --resume finishes with the adapter of the uninterrupted run', async () => {
    const out = join(dir, 'killed');
    const child = spawn(process.execPath, [bin, ...common, '--out', out], {
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    let buffered = '';
    const killedAt = await new Promise<number>((done) => {
      child.stdout.on('data', (chunk: Buffer) => {
        buffered += chunk.toString();
        const step = [...buffered.matchAll(/"type":"train-step","step":(\d+)/g)]
          .map((m) => Number(m[1]))
          .at(-1);
        if (step !== undefined && step >= 5 && child.kill('SIGKILL')) done(step);
      });
    });
    await new Promise((done) => child.on('close', done));
    assert.ok(killedAt < 10);
    const resumed = ownlm([...common, '--out', out, '--resume']);
    assert.equal(resumed.status, 0, resumed.stderr);
    const start = parseEvents(resumed.stdout).find((e) => e.type === 'run-start')!;
    assert.ok((start.step as number) >= 3 && (start.step as number) <= killedAt, JSON.stringify(start));
    const weights = (run: string) => readFileSync(join(dir, run, 'adapter', 'adapter_model.safetensors'));
    assert.ok(weights('killed').equals(weights('run')), 'adapter files are byte for byte equal');
    const losses = (run: string) => readFileSync(join(dir, run, 'metrics.jsonl'), 'utf8');
    assert.equal(losses('killed'), losses('run'));
  });

  it('a bad setting is refused naming the key', () => {
    const result = ownlm([...common.slice(0, -2), '--out', join(dir, 'bad'), '--rank', '0']);
    assert.equal(result.status, 1);
    assert.match(result.stderr, /^ownlm finetune: flags: rank must be positive, got number 0\n$/);
    assert.equal(existsSync(join(dir, 'bad')), false);
  });
});
