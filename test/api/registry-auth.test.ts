// Registry permissions with auth on: a model has its own READ/EDIT/MANAGE, its creator manages it,
// LABLOG_DEFAULT_PERMISSION applies otherwise, searches hide unreadable models, a version from a run
// needs READ on the run's experiment, and grants follow a rename.
import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { ADMIN, buildTestApp, type TestApp } from '../helper.js';
import { basic, createUser } from '../auth/auth.helpers.js';
import { assertError, rows } from './api.helpers.js';
import { ok, reg } from './registry.helpers.js';

const admin = basic(ADMIN.username, ADMIN.password);
const alice = basic('alice', 'alice-password-1');
const bob = basic('bob', 'bob-password-1');
const vic = basic('vic', 'vic-password-1');
const LABLOG = '/api/2.0/lablog';

let t: TestApp;
afterEach(() => t.close());

async function setup(defaultPermission: 'READ' | 'NO_PERMISSIONS') {
  t = await buildTestApp({ auth: { defaultPermission } });
  await createUser(t, admin, 'alice', 'alice-password-1', 'editor');
  await createUser(t, admin, 'bob', 'bob-password-1', 'editor');
  await createUser(t, admin, 'vic', 'vic-password-1', 'viewer');
}
const src = 's3://bucket/model';
const names = async (as: Record<string, string>, path = 'registered-models/search') => {
  const res = await ok(t, 'GET', path, {}, as);
  return (res.registered_models ?? res.model_versions ?? []).map((m: any) => (m.version ? `${m.name}/${m.version}` : m.name));
};

describe('registry permissions (default READ)', () => {
  it('the creator gets MANAGE; others read; a viewer never writes; EDIT and MANAGE are granted per model', async () => {
    await setup('READ');
    const created = await ok(t, 'POST', 'registered-models/create', { name: 'churn' }, alice);
    assert.equal(created.registered_model.name, 'churn');
    assert.deepEqual(rows(t, 'SELECT p.name, u.username, p.permission FROM registered_model_permissions p JOIN users u ON u.id = p.user_id'), [
      { name: 'churn', username: 'alice', permission: 'MANAGE' },
    ]);
    const v = await ok(t, 'POST', 'model-versions/create', { name: 'churn', source: src }, alice);
    assert.equal(v.model_version.user_id, 'alice');

    // Reads with the default permission.
    assert.equal((await ok(t, 'GET', 'registered-models/get', { name: 'churn' }, bob)).registered_model.name, 'churn');
    assert.deepEqual(await names(vic), ['churn']);
    // Writes need EDIT (MANAGE to delete); a viewer may not even create.
    assertError(await reg(t, 'POST', 'registered-models/create', { name: 'mine' }, vic), 403, 'PERMISSION_DENIED', /viewer/);
    assertError(await reg(t, 'POST', 'registered-models/set-tag', { name: 'churn', key: 'k', value: 'v' }, bob), 403, 'PERMISSION_DENIED', "Permission denied: user 'bob' needs EDIT on registered model 'churn'.");
    assertError(await reg(t, 'POST', 'model-versions/create', { name: 'churn', source: src }, bob), 403, 'PERMISSION_DENIED', /needs EDIT/);
    assertError(await reg(t, 'POST', 'model-versions/transition-stage', { name: 'churn', version: '1', stage: 'Production' }, vic), 403, 'PERMISSION_DENIED', /needs EDIT/);
    assertError(await reg(t, 'POST', `${LABLOG}/permissions/set`, { registered_model_name: 'churn', username: 'bob', permission: 'EDIT' }, bob), 403, 'PERMISSION_DENIED', /needs MANAGE/);

    await ok(t, 'POST', `${LABLOG}/permissions/set`, { registered_model_name: 'churn', username: 'bob', permission: 'EDIT' }, alice);
    await ok(t, 'POST', `${LABLOG}/permissions/set`, { registered_model_name: 'churn', username: 'vic', permission: 'MANAGE' }, alice);
    await ok(t, 'POST', 'registered-models/set-tag', { name: 'churn', key: 'k', value: 'v' }, bob);
    await ok(t, 'POST', 'model-versions/transition-stage', { name: 'churn', version: '1', stage: 'Production' }, bob);
    // MANAGE on a model does not make a viewer a writer.
    assertError(await reg(t, 'POST', 'registered-models/set-tag', { name: 'churn', key: 'k', value: 'v' }, vic), 403, 'PERMISSION_DENIED', /needs EDIT/);
    assertError(await reg(t, 'DELETE', 'model-versions/delete', { name: 'churn', version: '1' }, bob), 403, 'PERMISSION_DENIED', /needs MANAGE/);
    assertError(await reg(t, 'DELETE', 'registered-models/delete', { name: 'churn' }, bob), 403, 'PERMISSION_DENIED', /needs MANAGE/);

    const list = await ok(t, 'GET', `${LABLOG}/permissions/list`, { registered_model_name: 'churn' }, alice);
    assert.deepEqual(list.permissions, [
      { registered_model_name: 'churn', username: 'alice', permission: 'MANAGE' },
      { registered_model_name: 'churn', username: 'bob', permission: 'EDIT' },
      { registered_model_name: 'churn', username: 'vic', permission: 'MANAGE' },
    ]);
    const me = await ok(t, 'GET', `${LABLOG}/me`, {}, bob);
    assert.deepEqual(me.model_permissions, [{ registered_model_name: 'churn', permission: 'EDIT' }]);

    // The grants follow a rename; revoking takes effect at once.
    await ok(t, 'POST', 'registered-models/rename', { name: 'churn', new_name: 'churn2' }, bob);
    await ok(t, 'POST', 'registered-models/set-tag', { name: 'churn2', key: 'k', value: 'v2' }, bob);
    await ok(t, 'POST', `${LABLOG}/permissions/delete`, { registered_model_name: 'churn2', username: 'bob' }, alice);
    assertError(await reg(t, 'POST', 'registered-models/set-tag', { name: 'churn2', key: 'k', value: 'v3' }, bob), 403, 'PERMISSION_DENIED', /needs EDIT/);
    assertError(await reg(t, 'POST', `${LABLOG}/permissions/delete`, { registered_model_name: 'churn2', username: 'bob' }, alice), 404, 'RESOURCE_DOES_NOT_EXIST', /no permission of their own/);
    assertError(await reg(t, 'POST', `${LABLOG}/permissions/set`, { registered_model_name: 'nope', username: 'bob', permission: 'READ' }, admin), 404, 'RESOURCE_DOES_NOT_EXIST', /name=nope/);
    assertError(
      await reg(t, 'POST', `${LABLOG}/permissions/set`, { registered_model_name: 'churn2', experiment_id: '0', username: 'bob', permission: 'READ' }, admin),
      400,
      'INVALID_PARAMETER_VALUE',
      /exactly one of/,
    );
    await ok(t, 'DELETE', 'registered-models/delete', { name: 'churn2' }, alice);
    assert.deepEqual(rows(t, 'SELECT count(*) AS n FROM registered_model_permissions'), [{ n: 0 }]);
    // Registry writes are in the audit log, refused ones with their status.
    assert.deepEqual(
      rows(t, "SELECT username, method, status FROM audit_log WHERE route = '/api/2.0/mlflow/registered-models/set-tag' ORDER BY id"),
      [
        { username: 'bob', method: 'POST', status: 403 },
        { username: 'bob', method: 'POST', status: 200 },
        { username: 'vic', method: 'POST', status: 403 },
        { username: 'bob', method: 'POST', status: 200 },
        { username: 'bob', method: 'POST', status: 403 },
      ],
    );
  });

  it('no credentials: 401 on every registry route family', async () => {
    await setup('READ');
    for (const [method, path] of [
      ['GET', 'registered-models/search'],
      ['POST', 'registered-models/create'],
      ['GET', 'model-versions/get-download-uri'],
      ['DELETE', 'registered-models/alias'],
    ] as const) {
      assertError(await reg(t, method, path, { name: 'x' }), 401, 'UNAUTHENTICATED', /./);
    }
  });
});

describe('registry permissions (default NO_PERMISSIONS)', () => {
  it('another user cannot read; searches hide what they may not read; a grant shows it', async () => {
    await setup('NO_PERMISSIONS');
    await ok(t, 'POST', 'registered-models/create', { name: 'secret' }, alice);
    await ok(t, 'POST', 'registered-models/create', { name: 'shared' }, alice);
    await ok(t, 'POST', 'model-versions/create', { name: 'secret', source: src }, alice);
    await ok(t, 'POST', 'model-versions/create', { name: 'shared', source: src }, alice);
    await ok(t, 'POST', 'registered-models/alias', { name: 'secret', alias: 'champion', version: '1' }, alice);

    assertError(await reg(t, 'GET', 'registered-models/get', { name: 'secret' }, bob), 403, 'PERMISSION_DENIED', "Permission denied: user 'bob' needs READ on registered model 'secret'.");
    assertError(await reg(t, 'GET', 'model-versions/get', { name: 'secret', version: '1' }, bob), 403, 'PERMISSION_DENIED', /needs READ/);
    assertError(await reg(t, 'GET', 'model-versions/get-download-uri', { name: 'secret', version: '1' }, bob), 403, 'PERMISSION_DENIED', /needs READ/);
    assertError(await reg(t, 'GET', 'registered-models/alias', { name: 'secret', alias: 'champion' }, bob), 403, 'PERMISSION_DENIED', /needs READ/);
    assertError(await reg(t, 'GET', '/model-versions/get-artifact', { name: 'secret', version: '1', path: 'MLmodel' }, bob), 403, 'PERMISSION_DENIED', /needs READ/);
    assertError(await reg(t, 'POST', 'registered-models/get-latest-versions', { name: 'secret' }, bob), 403, 'PERMISSION_DENIED', /needs READ/);
    assert.deepEqual(await names(bob), []);
    assert.deepEqual(await names(bob, 'model-versions/search'), []);
    assert.deepEqual(await names(alice), ['secret', 'shared']);
    assert.deepEqual(await names(admin, 'model-versions/search'), ['shared/1', 'secret/1']);

    await ok(t, 'POST', `${LABLOG}/permissions/set`, { registered_model_name: 'shared', username: 'bob', permission: 'READ' }, alice);
    assert.deepEqual(await names(bob), ['shared']);
    assert.deepEqual(await names(bob, 'model-versions/search'), ['shared/1']);
    assert.equal((await ok(t, 'GET', 'model-versions/get', { name: 'shared', version: '1' }, bob)).model_version.name, 'shared');
    // An explicit NO_PERMISSIONS hides a model from an editor even when it was readable.
    await ok(t, 'POST', `${LABLOG}/permissions/set`, { registered_model_name: 'shared', username: 'bob', permission: 'NO_PERMISSIONS' }, alice);
    assert.deepEqual(await names(bob), []);
  });

  it('a version from a run needs READ on the run\'s experiment, besides EDIT on the model', async () => {
    await setup('NO_PERMISSIONS');
    const exp = (await ok(t, 'POST', 'experiments/create', { name: 'alice-exp' }, alice)).experiment_id;
    const run = (await ok(t, 'POST', 'runs/create', { experiment_id: exp }, alice)).run.info;
    await ok(t, 'POST', 'registered-models/create', { name: 'bobs' }, bob);
    assertError(
      await reg(t, 'POST', 'model-versions/create', { name: 'bobs', source: `runs:/${run.run_id}/model`, run_id: run.run_id }, bob),
      403,
      'PERMISSION_DENIED',
      `Permission denied: user 'bob' needs READ on experiment ${exp}.`,
    );
    assert.deepEqual(rows(t, 'SELECT count(*) AS n FROM model_versions'), [{ n: 0 }]);
    await ok(t, 'POST', `${LABLOG}/permissions/set`, { experiment_id: exp, username: 'bob', permission: 'READ' }, alice);
    const v = await ok(t, 'POST', 'model-versions/create', { name: 'bobs', source: `runs:/${run.run_id}/model`, run_id: run.run_id }, bob);
    assert.equal(v.model_version.version, '1');
    assert.deepEqual(await ok(t, 'GET', 'model-versions/get-download-uri', { name: 'bobs', version: '1' }, bob), { artifact_uri: `${run.artifact_uri}/model` });
  });
});
