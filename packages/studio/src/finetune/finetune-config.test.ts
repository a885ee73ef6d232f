import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { llamaConfig } from '@ownlm/engine';
import { ConfigError } from '../config-table.ts';
import {
  finetuneConfigFromFlags,
  learningRateOf,
  mergeFinetuneConfig,
  readFinetuneConfigFile,
  resolveFinetuneConfig,
  stepsOf,
} from './finetune-config.ts';
import { contextOf } from './finetune.ts';

const dir = mkdtempSync(join(tmpdir(), 'ownlm-finetune-config-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const required = { base: 'b', data: 'd', out: 'o' };

describe('FinetuneConfig', () => {
  it('defaults: LoRA r 8, alpha 16, dropout 0.05 on all seven projections; lr by method', () => {
    const lora = resolveFinetuneConfig(required, 'test');
    assert.equal(lora.rank, 8);
    assert.equal(lora.alpha, 16);
    assert.equal(lora.lora_dropout, 0.05);
    assert.deepEqual(lora.targets, [
      'q_proj',
      'k_proj',
      'v_proj',
      'o_proj',
      'gate_proj',
      'up_proj',
      'down_proj',
    ]);
    assert.equal(learningRateOf(lora), 2e-4);
    assert.equal(learningRateOf(resolveFinetuneConfig({ ...required, method: 'full' }, 'test')), 2e-5);
    assert.equal(learningRateOf(resolveFinetuneConfig({ ...required, lr: 1e-3 }, 'test')), 1e-3);
  });

  it('YAML, then flags (kebab-case, comma-separated targets) override it', () => {
    const file = join(dir, 'run.yaml');
    writeFileSync(file, 'method: lora\nrank: 4\ntargets: [q_proj]\nepochs: 2\n');
    const merged = mergeFinetuneConfig(
      readFinetuneConfigFile(file),
      finetuneConfigFromFlags({ rank: '16', targets: 'q_proj,v_proj', 'batch-size': '2', steps: 'null' }),
      'flags',
    );
    const config = resolveFinetuneConfig({ ...merged, ...required }, file);
    assert.equal(config.rank, 16);
    assert.deepEqual(config.targets, ['q_proj', 'v_proj']);
    assert.equal(config.batch_size, 2);
    assert.equal(config.steps, null);
    // 2 epochs of 9 conversations in batches of 2: ceil(18 / 2).
    assert.equal(stepsOf(config, 9), 9);
  });

  it('a JSON file of every resolved setting (what the server writes for a job) reads back to the same config', () => {
    const resolved = resolveFinetuneConfig({ ...required, rank: 4, steps: 12, scenarios: ['Hi?'] }, 'test');
    const file = join(dir, 'job.json');
    writeFileSync(file, JSON.stringify(resolved));
    assert.deepEqual(resolveFinetuneConfig(readFinetuneConfigFile(file), file), resolved);
  });

  it('errors name the key and where it came from', () => {
    const cases: [() => unknown, RegExp][] = [
      [
        () => mergeFinetuneConfig({}, { rnak: 8 }, 'run.yaml'),
        /^run\.yaml: unknown key 'rnak'; known keys: base, /,
      ],
      [
        () => mergeFinetuneConfig({}, { method: 'qlora' }, 'flags'),
        /^flags: method must be lora or full, got string "qlora"$/,
      ],
      [
        () => mergeFinetuneConfig({}, finetuneConfigFromFlags({ targets: 'q_proj,lm_head' }), 'flags'),
        /^flags: targets must be a non-empty list of distinct projections among q_proj, k_proj/,
      ],
      [
        () => mergeFinetuneConfig({}, { lora_dropout: 1 }, 'flags'),
        /^flags: lora_dropout must be in \[0, 1\), got number 1$/,
      ],
      [
        () => finetuneConfigFromFlags({ 'learning-rate': '1' }),
        /^flags: unknown option --learning-rate; see `ownlm finetune --help`$/,
      ],
      [() => resolveFinetuneConfig({ base: 'b', out: 'o' }, 'flags'), /^flags: 'data' is required/],
      [
        () => resolveFinetuneConfig({ ...required, steps: 5, warmup_steps: 6 }, 'flags'),
        /warmup_steps \(6\) exceeds steps \(5\)/,
      ],
    ];
    for (const [fn, message] of cases)
      assert.throws(fn, (e: Error) => e instanceof ConfigError && message.test(e.message));
  });

  it("context defaults to the base's positions and may not exceed them", () => {
    const base = llamaConfig({
      vocab_size: 10,
      hidden_size: 8,
      intermediate_size: 16,
      num_hidden_layers: 1,
      num_attention_heads: 2,
      max_position_embeddings: 128,
    });
    assert.equal(contextOf(resolveFinetuneConfig(required, 't'), base), 128);
    assert.equal(contextOf(resolveFinetuneConfig({ ...required, context: 64 }, 't'), base), 64);
    assert.throws(
      () => contextOf(resolveFinetuneConfig({ ...required, context: 256 }, 't'), base),
      /context 256 exceeds the base model's max_position_embeddings \(128\); use --context 128 or less/,
    );
  });
});
