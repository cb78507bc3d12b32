// Per-model permissions in the store on both backends: grants, their order, the user's map, what a
// search shows each user, and grants following a rename and going with a deleted model. (Over HTTP
// with auth on, test/api/registry-auth.test.ts covers them on SQLite.)
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { backends, buildTestApp, type TestApp } from '../helper.js';

const search = { filter: null, orderBy: [], offset: 0, limit: 100 };

for (const { backend, skip } of backends()) describe(backend, { skip }, () => {
  let t: TestApp;
  let alice = 0;
  let bob = 0;
  beforeEach(async () => {
    t = await buildTestApp({ backend });
    // Users straight into their table: the accounts API is not what is under test here.
    for (const name of ['bob', 'alice']) {
      await t.sql("INSERT INTO users (username, password_hash, role, auth_source, created_at, updated_at) VALUES (?, NULL, 'editor', 'local', 1, 1)", name);
    }
    const ids = new Map((await t.sql<{ id: number; username: string }>('SELECT id, username FROM users')).map((u) => [u.username, u.id]));
    alice = ids.get('alice')!;
    bob = ids.get('bob')!;
    for (const name of ['churn', 'fraud', 'Zeta']) await t.store.createRegisteredModel({ name, description: null, tags: [], now: 1 });
  });
  afterEach(() => t.close());

  it('grants are set, replaced, listed by username, and mapped per user; an unknown model is RESOURCE_DOES_NOT_EXIST', async () => {
    await t.store.setModelPermission('churn', bob, 'READ');
    await t.store.setModelPermission('churn', alice, 'EDIT');
    await t.store.setModelPermission('churn', bob, 'MANAGE');
    await t.store.setModelPermission('fraud', alice, 'NO_PERMISSIONS');
    assert.deepEqual(await t.store.listModelPermissions('churn'), [
      { name: 'churn', username: 'alice', permission: 'EDIT' },
      { name: 'churn', username: 'bob', permission: 'MANAGE' },
    ]);
    assert.deepEqual(await t.store.modelPermissionsOf(alice), new Map([['churn', 'EDIT'], ['fraud', 'NO_PERMISSIONS']]));
    // bob was inserted first: the lower id.
    assert.deepEqual(await t.sql('SELECT name, user_id, permission FROM registered_model_permissions ORDER BY name, user_id'), [
      { name: 'churn', user_id: bob, permission: 'MANAGE' },
      { name: 'churn', user_id: alice, permission: 'EDIT' },
      { name: 'fraud', user_id: alice, permission: 'NO_PERMISSIONS' },
    ]);
    for (const call of [() => t.store.setModelPermission('nope', alice, 'READ'), () => t.store.listModelPermissions('nope'), () => t.store.deleteModelPermission('nope', alice)]) {
      await assert.rejects(call, { errorCode: 'RESOURCE_DOES_NOT_EXIST', message: 'Registered Model with name=nope not found' });
    }
    assert.equal(await t.store.deleteModelPermission('churn', bob), true);
    assert.equal(await t.store.deleteModelPermission('churn', bob), false);
    assert.deepEqual(await t.store.modelPermissionsOf(bob), new Map());
  });

  it('a search shows each user what they may read, with the default permission or without it', async () => {
    await t.store.setModelPermission('churn', alice, 'READ');
    await t.store.setModelPermission('fraud', alice, 'NO_PERMISSIONS');
    const names = async (userId: number, defaultReadable: boolean) =>
      (await t.store.searchRegisteredModels({ ...search, readableBy: { userId, defaultReadable } })).items.map((m) => m.name);
    // Byte order: upper case first, as MLflow's SQL stores sort.
    assert.deepEqual(await names(alice, true), ['Zeta', 'churn']);
    assert.deepEqual(await names(alice, false), ['churn']);
    assert.deepEqual(await names(bob, true), ['Zeta', 'churn', 'fraud']);
    assert.deepEqual(await names(bob, false), []);
    await t.store.createModelVersion({ name: 'fraud', source: 's3://b/m', storageLocation: 's3://b/m', runId: '', runLink: '', description: null, userId: null, tags: [], now: 2 });
    await t.store.createModelVersion({ name: 'churn', source: 's3://b/m', storageLocation: 's3://b/m', runId: '', runLink: '', description: null, userId: null, tags: [], now: 3 });
    const versions = await t.store.searchModelVersions({ ...search, readableBy: { userId: alice, defaultReadable: true } });
    assert.deepEqual(versions.items.map((v) => `${v.name}/${v.version}`), ['churn/1']);
  });

  it('grants follow a rename and go with a deleted model', async () => {
    await t.store.setModelPermission('churn', alice, 'MANAGE');
    await t.store.renameRegisteredModel('churn', 'churn-v2', 5);
    assert.deepEqual(await t.store.listModelPermissions('churn-v2'), [{ name: 'churn-v2', username: 'alice', permission: 'MANAGE' }]);
    assert.deepEqual(await t.store.modelPermissionsOf(alice), new Map([['churn-v2', 'MANAGE']]));
    await t.store.deleteRegisteredModel('churn-v2');
    assert.deepEqual(await t.sql('SELECT * FROM registered_model_permissions'), []);
  });
});
