import assert from 'node:assert/strict';
import { appendFileSync, copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { openPglite, type DatabaseHandle } from '../db/database.ts';
import { AppError } from '../errors.ts';
import { tinyModel } from '../testing/tiny-model.ts';
import { ModelRegistry } from './registry.ts';

describe('ModelRegistry', () => {
  const home = mkdtempSync(join(tmpdir(), 'ownlm-registry-'));
  const modelsDir = join(home, 'models');
  const warnings: string[] = [];
  let handle: DatabaseHandle;
  let registry: ModelRegistry;
  let gguf: string;

  before(async () => {
    gguf = (await tinyModel()).gguf;
    mkdirSync(modelsDir);
    copyFileSync(gguf, join(modelsDir, 'tiny.gguf'));
    // A file that only looks like a model: it must be reported and skipped, never registered.
    writeFileSync(join(modelsDir, 'broken.gguf'), Buffer.from('GGUF\x03\x00\x00\x00garbage'));
    handle = await openPglite('memory://');
    registry = new ModelRegistry(handle.db, modelsDir, (message) => warnings.push(message));
  });
  after(async () => {
    await handle.close();
    rmSync(home, { recursive: true, force: true });
  });

  test('registers the folder once, reads the file, and makes the first model the default', async () => {
    const added = await registry.sync();
    assert.deepEqual(
      added.map((m) => [m.name, m.version]),
      [['tiny', 1]],
    );
    assert.equal(warnings.length, 1);
    assert.match(warnings[0]!, /broken\.gguf/);
    const [tiny] = added;
    assert.equal(tiny!.format, 'gguf');
    assert.equal(tiny!.quantization, 'F32');
    assert.equal(tiny!.contextLength, 64);
    assert.ok(tiny!.parameters! > 0);
    assert.match(tiny!.sha256, /^[0-9a-f]{64}$/);
    assert.ok(tiny!.chatTemplate?.includes('<|im_start|>'));
    assert.deepEqual(tiny!.aliases, ['default']);
    assert.deepEqual(await registry.sync(), [], 'an unchanged folder adds nothing');
    assert.equal((await registry.resolve('default')).versionId, tiny!.versionId);
    assert.equal((await registry.resolve('tiny:1')).versionId, tiny!.versionId);
    assert.equal((await registry.resolve(tiny!.versionId)).name, 'tiny');
  });

  test('an imported path becomes a new model with its lineage; aliases switch and switch back', async () => {
    const other = join(home, 'elsewhere.gguf');
    copyFileSync(gguf, other);
    appendFileSync(other, Buffer.alloc(64));
    writeFileSync(`${other}.lineage.json`, JSON.stringify({ trainedBy: 'a test' }));
    const imported = await registry.importFile(other, { name: 'second' });
    assert.equal(imported.name, 'second');
    assert.deepEqual(imported.lineage, { trainedBy: 'a test' });
    assert.equal(
      (await registry.importFile(other, { name: 'second' })).versionId,
      imported.versionId,
      'import is idempotent',
    );

    await registry.setAlias('default', 'second');
    assert.equal((await registry.resolve('default')).name, 'second');
    await registry.setAlias('default', 'tiny:1');
    assert.equal((await registry.resolve('default')).name, 'tiny');
    await assert.rejects(registry.setAlias('tiny', 'second'), (e: AppError) => e.code === 'conflict');
  });

  test('unknown names are model_not_found naming the field', async () => {
    await assert.rejects(
      registry.resolve('nope'),
      (e: AppError) => e.code === 'model_not_found' && e.param === 'model' && e.message.includes("'nope'"),
    );
    await assert.rejects(
      registry.importFile(join(home, 'missing.gguf')),
      (e: AppError) => e.param === 'path',
    );
  });
});
