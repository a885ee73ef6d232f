// An adapter version served on its base with llama.cpp's run-time LoRA, through the whole app and /v1: a random
// non-zero LoRA on the tiny model, found in the model folder beside its base. Expected tokens come from two
// other places: llama.cpp itself with the adapter applied to a context, and the engine with B·A merged into the
// weights. The base alone stays servable and answers differently.
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { generateTokens, Random } from '@ownlm/engine';
import { loadModelFolder } from '@ownlm/studio';
import type { FastifyInstance } from 'fastify';
import { getLlama, type Token } from 'node-llama-cpp';
// The studio's GGUF writer, outside its public API (the adapter exporter is the studio's own job).
import { GgmlType, writeGguf, type GgufValue } from '../../../studio/src/formats/gguf.ts';
import { buildApp } from '../app.ts';
import { tinyModel, type ModelFiles } from '../testing/tiny-model.ts';

/** Targets outside the q/k permutation (docs/FORMATS.md#q-and-k-permutation), so the merge needs no reordering. */
const TARGETS = [
  { hf: 'model.layers.0.self_attn.v_proj.weight', gguf: 'blk.0.attn_v.weight', in: 64, out: 32 },
  { hf: 'model.layers.1.self_attn.o_proj.weight', gguf: 'blk.1.attn_output.weight', in: 64, out: 64 },
  { hf: 'model.layers.1.mlp.up_proj.weight', gguf: 'blk.1.ffn_up.weight', in: 64, out: 160 },
];
const RANK = 4;
const ALPHA = 8;

interface LoraPair {
  hf: string;
  out: number;
  in: number;
  /** numpy [r, in], as PEFT's lora_A and GGUF's lora_a (ne [in, r]). */
  a: Float32Array;
  /** numpy [out, r], as PEFT's lora_B and GGUF's lora_b (ne [r, out]). */
  b: Float32Array;
}

/** A GGUF LoRA adapter (docs/FORMATS.md#gguf-lora-adapters) with random weights; returns them for the merge. */
function writeRandomAdapter(path: string): LoraPair[] {
  const random = new Random(11);
  const pairs = TARGETS.map((t) => {
    const a = new Float32Array(RANK * t.in);
    const b = new Float32Array(t.out * RANK);
    random.fillNormal(a, 0.3);
    random.fillNormal(b, 0.3);
    return { ...t, a, b };
  });
  const metadata = new Map<string, GgufValue>([
    ['general.architecture', { type: 'string', value: 'llama' }],
    ['general.type', { type: 'string', value: 'adapter' }],
    ['adapter.type', { type: 'string', value: 'lora' }],
    ['adapter.lora.alpha', { type: 'f32', value: ALPHA }],
  ]);
  const bytes = (values: Float32Array) => new Uint8Array(values.buffer);
  writeGguf(
    path,
    metadata,
    pairs.flatMap((p) => [
      { name: `${p.gguf}.lora_a`, type: GgmlType.F32, ne: [p.in, RANK], data: bytes(p.a) },
      { name: `${p.gguf}.lora_b`, type: GgmlType.F32, ne: [RANK, p.out], data: bytes(p.b) },
    ]),
  );
  return pairs;
}

describe('adapters served with run-time LoRA', () => {
  const home = mkdtempSync(join(tmpdir(), 'ownlm-lora-'));
  const adapterPath = join(home, 'models', 'tiny-lora.gguf');
  const prompt = 'Anna sees the moon over the river, then calls Boris. Boris';
  const maxTokens = 12;
  let files: ModelFiles;
  let pairs: LoraPair[];
  let app: FastifyInstance;
  let authorization: string;

  before(async () => {
    files = await tinyModel();
    mkdirSync(join(home, 'models'));
    copyFileSync(files.gguf, join(home, 'models', 'tiny.gguf'));
    pairs = writeRandomAdapter(adapterPath);
    // The folder scan registers an adapter only with its base recorded beside it.
    writeFileSync(`${adapterPath}.lineage.json`, JSON.stringify({ base: 'tiny.gguf' }));
    app = await buildApp({ home, logLevel: 'warn', threads: 1 });
    const registered = await app.inject({
      method: 'POST',
      url: '/api/auth/register',
      payload: { email: 'ada@example.com', password: 'a long enough password', name: 'Ada' },
    });
    const cookie = registered.cookies.find((c) => c.name === 'ownlm_session')!;
    const key = await app.inject({
      method: 'POST',
      url: '/api/keys',
      headers: {
        cookie: `ownlm_session=${cookie.value}`,
        'x-csrf-token': (registered.json() as { csrfToken: string }).csrfToken,
      },
      payload: { name: 'test', scopes: ['inference', 'platform', 'admin'] },
    });
    assert.equal(key.statusCode, 201, key.body);
    authorization = `Bearer ${(key.json() as { secret: string }).secret}`;
  });
  after(async () => {
    await app?.close();
    rmSync(home, { recursive: true, force: true });
  });

  async function complete(model: string): Promise<{ text: string; completionTokens: number }> {
    const response = await app.inject({
      method: 'POST',
      url: '/v1/completions',
      headers: { authorization },
      payload: { model, prompt, max_tokens: maxTokens, temperature: 0 },
    });
    assert.equal(response.statusCode, 200, response.body);
    const body = response.json() as {
      choices: { text: string }[];
      usage: { completion_tokens: number };
    };
    return { text: body.choices[0]!.text, completionTokens: body.usage.completion_tokens };
  }

  test('the folder scan registers the adapter on its base; the list says so', async () => {
    const listed = await app.inject({
      method: 'GET',
      url: '/api/models',
      headers: { authorization },
    });
    assert.equal(listed.statusCode, 200, listed.body);
    const all = (
      listed.json() as { models: { id: string; name: string; kind: string; baseVersionId: string | null }[] }
    ).models;
    const base = all.find((m) => m.name === 'tiny')!;
    const adapter = all.find((m) => m.name === 'tiny-lora')!;
    assert.equal(base.kind, 'model');
    assert.equal(base.baseVersionId, null);
    assert.equal(adapter.kind, 'adapter');
    assert.equal(adapter.baseVersionId, base.id);
  });

  test('greedy tokens through /v1 equal llama.cpp with the adapter and the engine with B·A merged; the base differs', async () => {
    const tuned = await complete('tiny-lora');
    const plain = await complete('tiny');
    assert.notEqual(tuned.text, plain.text, 'the adapter changes the answer');

    // llama.cpp directly: the same file, the adapter applied to the context.
    const llama = await getLlama({ gpu: false, build: 'never', skipDownload: true });
    const model = await llama.loadModel({ modelPath: files.gguf, gpuLayers: 0 });
    let reference: number[];
    try {
      const context = await model.createContext({
        contextSize: 64,
        threads: 1,
        lora: { adapters: [{ filePath: adapterPath }] },
      });
      const sequence = context.getSequence();
      let tokens = model.tokenize(prompt, true);
      if (model.tokens.shouldPrependBosToken && model.tokens.bos !== null)
        tokens = [model.tokens.bos, ...tokens];
      reference = [];
      for await (const token of sequence.evaluate(tokens as Token[], {
        temperature: 0,
        yieldEogToken: true,
      })) {
        if (model.isEogToken(token)) break;
        reference.push(Number(token));
        if (reference.length === maxTokens) break;
      }
      assert.equal(tuned.text, model.detokenize(reference as Token[]));
      assert.equal(tuned.completionTokens, reference.length);
    } finally {
      await model.dispose();
    }

    // The engine: W + (alpha / r)·B·A, llama.cpp's run-time formula (docs/FORMATS.md#gguf-lora-adapters).
    const engine = loadModelFolder(files.folder);
    for (const pair of pairs) {
      const weight = engine.model.parameters.get(pair.hf)!.data;
      for (let o = 0; o < pair.out; o++)
        for (let i = 0; i < pair.in; i++) {
          let sum = 0;
          for (let k = 0; k < RANK; k++) sum += pair.b[o * RANK + k]! * pair.a[k * pair.in + i]!;
          weight[o * pair.in + i]! += (ALPHA / RANK) * sum;
        }
    }
    const ids = engine.tokenizer.encode(prompt, { addSpecialTokens: true });
    const ends = [engine.tokenizer.eosId!, engine.tokenizer.tokenToId('<|im_end|>')!];
    const merged = [
      ...generateTokens(engine.model, Int32Array.from(ids), {
        temperature: 0,
        maxNewTokens: maxTokens,
        stopTokens: ends,
      }),
    ].filter((t) => !ends.includes(t));
    assert.deepEqual(merged, reference);
  });

  test('an adapter without its base recorded is skipped by the scan, with the reason', async () => {
    copyFileSync(adapterPath, join(home, 'models', 'orphan.gguf'));
    const before = (
      await app.inject({ method: 'GET', url: '/api/models', headers: { authorization } })
    ).json() as {
      models: unknown[];
    };
    const scan = await app.inject({ method: 'POST', url: '/api/models/rescan', headers: { authorization } });
    // Rescanning is an admin's; the first account is one.
    assert.equal(scan.statusCode, 200, scan.body);
    assert.deepEqual((scan.json() as { added: unknown[] }).added, []);
    const afterScan = (
      await app.inject({ method: 'GET', url: '/api/models', headers: { authorization } })
    ).json() as {
      models: unknown[];
    };
    assert.equal(afterScan.models.length, before.models.length);
  });
});
