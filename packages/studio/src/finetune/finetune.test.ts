import assert from 'node:assert/strict';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DataError } from '../data/errors.ts';
import { readSafetensors } from '../formats/safetensors.ts';
import { exportModel } from '../train/export.ts';
import { importModel } from '../train/import.ts';
import { listCheckpoints } from '../train/checkpoint.ts';
import type { FinetuneReport } from './compare.ts';
import { resolveFinetuneConfig, type FinetuneConfig } from './finetune-config.ts';
import { writeTinyBase, writeVoiceDataset } from './finetune-fixture.ts';
import {
  finetunePreflight,
  readBaseModelInfo,
  runFinetune,
  type FinetuneEstimate,
  type FinetuneEvent,
} from './finetune.ts';

const dir = mkdtempSync(join(tmpdir(), 'ownlm-finetune-'));
let base: string;
let data: string;
after(() => rmSync(dir, { recursive: true, force: true }));
before(async () => {
  base = await writeTinyBase(dir);
  data = writeVoiceDataset(dir, 24, 6);
});

function config(out: string, overrides: Partial<FinetuneConfig> = {}): FinetuneConfig {
  return resolveFinetuneConfig(
    {
      base,
      data,
      out: join(dir, out),
      steps: 8,
      batch_size: 4,
      lr: 1e-2,
      eval_every: 4,
      checkpoint_every: 3,
      keep_checkpoints: 5,
      scenario_tokens: 12,
      scenarios: ['Who comes after Emma?', 'Say <b>"hi" & bye</b>'],
      threads: 1,
      ...overrides,
    },
    'test',
  );
}

/** Every tensor of a safetensors file as plain arrays, for exact comparison. */
function tensors(path: string): Record<string, number[]> {
  const out: Record<string, number[]> = {};
  for (const [name, t] of readSafetensors(path).tensors) out[name] = [...t.toFloat32()];
  return out;
}

function metrics(out: string): unknown[] {
  return readFileSync(join(dir, out, 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line));
}

describe('runFinetune (LoRA)', () => {
  const events: FinetuneEvent[] = [];
  before(async () => {
    await runFinetune(config('straight'), { onEvent: (e) => events.push(e) });
  });

  it('a run that crashes after step 5 and resumes from its step-3 checkpoint ends bit for bit like one that did not', async () => {
    const crash = new Error('simulated crash');
    await assert.rejects(
      runFinetune(config('crashed'), {
        onEvent: (e) => {
          if (e.type === 'train-step' && e.step === 5) throw crash;
        },
      }),
      crash,
    );
    assert.deepEqual(
      listCheckpoints(join(dir, 'crashed')).map((d) => d.slice(-12)),
      ['step-0000003'],
    );
    const resumedEvents: FinetuneEvent[] = [];
    await runFinetune(config('crashed'), { resume: true, onEvent: (e) => resumedEvents.push(e) });
    const start = resumedEvents.find((e) => e.type === 'run-start');
    assert.equal(start?.type === 'run-start' && start.step, 3);
    assert.deepEqual(metrics('crashed'), metrics('straight'));
    const adapterFile = (out: string) => join(dir, out, 'adapter', 'adapter_model.safetensors');
    assert.deepEqual(tensors(adapterFile('crashed')), tensors(adapterFile('straight')));
  });

  it('trains only the adapter, lowers held-out assistant perplexity and writes the verified outputs and report', () => {
    const out = join(dir, 'straight');
    for (const file of [
      'adapter/adapter_config.json',
      'adapter.gguf',
      'base.gguf',
      'lineage.json',
      'report.md',
    ])
      assert.ok(existsSync(join(out, file)), file);
    assert.equal(existsSync(join(out, 'merged.gguf')), false);
    const report = JSON.parse(readFileSync(join(out, 'report.json'), 'utf8')) as FinetuneReport;
    assert.deepEqual(Object.keys(report).sort(), [
      'baseModel',
      'dataset',
      'heldOut',
      'perplexity',
      'scenarios',
      'tunedModel',
    ]);
    assert.equal(report.heldOut.conversations, 6);
    assert.ok(report.perplexity.tuned < report.perplexity.base, JSON.stringify(report.perplexity));
    assert.deepEqual(
      report.scenarios.map((s) => s.prompt),
      ['Who comes after Emma?', 'Say <b>"hi" & bye</b>'],
    );
    const html = readFileSync(join(out, 'report.html'), 'utf8');
    assert.ok(html.includes('Say &lt;b&gt;&quot;hi&quot; &amp; bye&lt;/b&gt;'));
    assert.equal(html.includes('<b>'), false);
    // The checkpoint holds the adapter's tensors only (PEFT keys), not the frozen base.
    const checkpoint = tensors(join(listCheckpoints(out)[0], 'model.safetensors'));
    assert.ok(Object.keys(checkpoint).every((name) => /\.lora_[AB]\.weight$/.test(name)));
    const kinds = events.flatMap((e) => (e.type === 'artifact-written' ? [e.kind] : []));
    assert.deepEqual(kinds.sort(), [
      'base-gguf',
      'gguf-adapter',
      'lineage',
      'peft-adapter',
      'report-html',
      'report-json',
      'report-markdown',
    ]);
    const lineage = JSON.parse(readFileSync(join(out, 'lineage.json'), 'utf8'));
    assert.equal(lineage.hyperparameters.rank, 8);
    assert.equal(lineage.metrics.steps, 8);
    // llama.cpp ran base.gguf + adapter.gguf on the golden and scenario prompts and matched the engine.
    const checks = lineage.outputs.adapterChecks as { prompt: string; compared: number }[];
    assert.equal(checks.length, 7);
    assert.ok(checks.reduce((n, c) => n + c.compared, 0) > 100, JSON.stringify(checks));
  });

  it('an abort signal stops the run at the next step, checkpointed there, with an error saying how to resume', async () => {
    const controller = new AbortController();
    await assert.rejects(
      runFinetune(config('aborted'), {
        signal: controller.signal,
        onEvent: (e) => {
          if (e.type === 'train-step' && e.step === 2) controller.abort();
        },
      }),
      (e: Error) =>
        e instanceof DataError &&
        e.code === 'aborted' &&
        /^fine-tune stopped at step 2 of 8; resume with --resume$/.test(e.message),
    );
    assert.deepEqual(
      listCheckpoints(join(dir, 'aborted')).map((d) => d.slice(-12)),
      ['step-0000002'],
    );
  });

  it('refuses to resume with a setting that changes what is computed', async () => {
    await assert.rejects(
      runFinetune(config('straight', { rank: 4 }), { resume: true }),
      /cannot resume with rank = 4; the run started with 8/,
    );
  });

  it('preflight estimates steps, tokens and memory without writing anything', () => {
    const estimate = finetunePreflight(config('preflight', { steps: null, epochs: 2 }));
    assert.equal(estimate.steps, 12); // 2 epochs × 24 conversations / batch 4
    assert.ok(estimate.trainableParameters > 0 && estimate.trainableParameters < estimate.parameters);
    assert.ok(estimate.tokens > 0 && estimate.memoryBytes > 0 && estimate.fits);
    assert.equal(existsSync(join(dir, 'preflight')), false);
  });

  it("preflight reads a GGUF base's config and tokenizer from its header: the estimate of its imported folder", async () => {
    const gguf = join(dir, 'preflight-base.gguf');
    await exportModel({ model: base, out: gguf, format: 'gguf', dtype: 'f32', verify: false });
    const imported = join(dir, 'preflight-imported');
    importModel({ from: gguf, out: imported });
    const fromGguf = config('preflight-gguf', { base: gguf, steps: null, epochs: 2 });
    const fromFolder = config('preflight-folder', { base: imported, steps: null, epochs: 2 });
    assert.deepEqual(readBaseModelInfo(fromGguf).config, readBaseModelInfo(fromFolder).config);
    // Time and free memory are measured on each call; what the base and dataset decide is equal.
    const decided = ({ parameters, trainableParameters, memoryBytes, steps, tokens }: FinetuneEstimate) => ({
      parameters,
      trainableParameters,
      memoryBytes,
      steps,
      tokens,
    });
    assert.deepEqual(decided(finetunePreflight(fromGguf)), decided(finetunePreflight(fromFolder)));
    assert.equal(existsSync(join(dir, 'preflight-gguf')), false);
  });
});

describe('runFinetune on a GGUF base', () => {
  it('dequantizes a Q8_0 base into <out>/base and serves the adapter on the original GGUF, checked in llama.cpp', async () => {
    const gguf = join(dir, 'base-q8_0.gguf');
    await exportModel({ model: base, out: gguf, format: 'gguf', dtype: 'q8_0', verify: false });
    const result = await runFinetune(config('from-gguf', { base: gguf, steps: 4, checkpoint_every: 0 }));
    assert.ok(existsSync(join(dir, 'from-gguf', 'base', 'model.safetensors')));
    assert.equal(existsSync(join(dir, 'from-gguf', 'base.gguf')), false);
    assert.equal(result.outputs.baseGguf, gguf);
    // Q8_0: llama.cpp also rounds activations, so export compares the first 8 greedy tokens per prompt.
    assert.ok(
      result.outputs.adapterChecks.every((c) => c.compared > 0 || c.nearTie),
      JSON.stringify(result.outputs.adapterChecks),
    );
    assert.equal(result.report.baseModel, 'base-q8_0.gguf');
  });
});

describe('runFinetune refusing outputs', () => {
  it('publishes nothing llama.cpp would not reproduce (a base whose tokenizer llama.cpp reads differently)', async () => {
    const odd = join(dir, 'base-nfd');
    cpSync(base, odd, { recursive: true });
    const file = join(odd, 'tokenizer.json');
    writeFileSync(
      file,
      readFileSync(file, 'utf8').replace('"normalizer": null', '"normalizer": {"type": "NFD"}'),
    );
    await assert.rejects(
      runFinetune(config('refused', { base: odd, steps: 2 })),
      /base\.gguf: tokenization of ".*": token \d+ is \d+ in ownlm but \d+ in llama\.cpp/,
    );
    for (const file of ['base.gguf', 'adapter', 'adapter.gguf', 'report.json'])
      assert.equal(existsSync(join(dir, 'refused', file)), false, file);
  });
});

describe('runFinetune (full, merged)', () => {
  it('trains every weight and writes the verified merged folder and GGUF', async () => {
    const result = await runFinetune(
      config('full', { method: 'full', lr: 1e-3, steps: 4, checkpoint_every: 0 }),
    );
    assert.equal(result.outputs.peftAdapter, null);
    assert.ok(existsSync(join(dir, 'full', 'merged', 'model.safetensors')));
    assert.ok(existsSync(join(dir, 'full', 'merged.gguf')));
    assert.ok(result.report.perplexity.tuned < result.report.perplexity.base);
  });
});
