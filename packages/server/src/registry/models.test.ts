// Who sees which model: a version made by a user's job is theirs (another user gets the not-found of a missing
// model, in the list, by name, by id and as a chat's model), its lineage names a dataset and is shown only to
// the dataset's owner, admins see every version and publish one to everyone, and `default` only ever points
// at a model everyone may use.
import assert from 'node:assert/strict';
import { appendFileSync, copyFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Actor } from '../auth/actor.ts';
import { createChat } from '../chats/chats.ts';
import { configWithDefaults } from '../config.ts';
import type { AppContext } from '../context.ts';
import { openPglite, type DatabaseHandle } from '../db/database.ts';
import { datasets, users } from '../db/schema.ts';
import { AppError } from '../errors.ts';
import { tinyModel } from '../testing/tiny-model.ts';
import { listModels, publishModel, resolveModel, setModelAlias } from './models.ts';
import { ModelRegistry } from './registry.ts';

const alice: Actor = { userId: 'usr_alice', role: 'member', apiKeyId: null };
const bob: Actor = { userId: 'usr_bob', role: 'member', apiKeyId: null };
const admin: Actor = { userId: 'usr_admin', role: 'admin', apiKeyId: null };

const notFound = (error: unknown) => error instanceof AppError && error.code === 'model_not_found';

describe('model ownership', () => {
  const home = mkdtempSync(join(tmpdir(), 'ownlm-models-'));
  let handle: DatabaseHandle;
  let ctx: AppContext;
  let tuned: string;
  let tunedName: string;

  before(async () => {
    const { gguf } = await tinyModel();
    mkdirSync(join(home, 'models'));
    copyFileSync(gguf, join(home, 'models', 'tiny.gguf'));
    handle = await openPglite('memory://');
    for (const actor of [alice, bob, admin])
      await handle.db.insert(users).values({
        id: actor.userId,
        email: `${actor.userId}@example.com`,
        name: actor.userId,
        passwordHash: 'x',
        role: actor.role,
      });
    await handle.db.insert(datasets).values({
      ...{ id: 'ds_alice', userId: alice.userId, name: 'support', sourceFormat: 'openai', path: home },
      ...{ conversations: 1, stats: {}, rejected: [], rejectedCount: 0 },
    });
    const registry = new ModelRegistry(handle.db, join(home, 'models'), () => {});
    await registry.sync();
    ctx = { config: configWithDefaults({ home }), db: handle.db, registry } as AppContext;
    // What a fine-tune of Alice's registers: a model of hers, its lineage naming her dataset.
    const file = join(home, 'support-full.gguf');
    copyFileSync(gguf, file);
    appendFileSync(file, Buffer.alloc(32));
    const version = await registry.importFile(file, {
      name: 'support-full',
      ownerId: alice.userId,
      lineage: { dataset: 'ds_alice', datasetName: 'support', job: 'job_1' },
    });
    tuned = version.versionId;
    tunedName = `${version.name}:${version.version}`;
  });
  after(async () => {
    await handle?.close();
    rmSync(home, { recursive: true, force: true });
  });

  /** [name, everyone's?, lineage shown?]; the folder's tiny model has no lineage. */
  const names = async (actor: Actor) =>
    (await listModels({ ctx, actor })).models.map((m) => [m.name, m.shared, m.lineage !== null]);

  test("a user's fine-tune is theirs: others cannot list, resolve or chat with it", async () => {
    assert.deepEqual(await names(alice), [
      ['support-full', false, true],
      ['tiny', true, false],
    ]);
    assert.deepEqual(await names(bob), [['tiny', true, false]]);
    for (const reference of [tuned, 'support-full', tunedName])
      await assert.rejects(resolveModel({ ctx, actor: bob, reference }), notFound, reference);
    assert.equal((await resolveModel({ ctx, actor: alice, reference: 'support-full' })).versionId, tuned);
    await assert.rejects(
      createChat({ ctx, actor: bob, body: { modelId: tuned } }),
      (error: unknown) => error instanceof AppError && error.param === 'modelId',
    );
    assert.equal((await createChat({ ctx, actor: alice, body: { modelId: tuned } })).modelId, tuned);
  });

  test("admins see every version, but a lineage only with its dataset's owner", async () => {
    assert.deepEqual(await names(admin), [
      ['support-full', false, false],
      ['tiny', true, false],
    ]);
  });

  test('default points only at a model everyone may use; publishing makes it so', async () => {
    await assert.rejects(
      setModelAlias({ ctx, actor: admin, alias: 'default', target: tuned }),
      (error: unknown) => error instanceof AppError && error.param === 'target',
    );
    await assert.rejects(
      publishModel({ ctx, actor: alice, versionId: tuned }),
      (error: unknown) => error instanceof AppError && error.code === 'forbidden',
    );
    const published = await publishModel({ ctx, actor: admin, versionId: tuned });
    assert.equal(published.shared, true);
    assert.deepEqual(await names(bob), [
      ['support-full', true, false],
      ['tiny', true, false],
    ]);
    assert.equal((await setModelAlias({ ctx, actor: admin, alias: 'default', target: tuned })).id, tuned);
  });
});
