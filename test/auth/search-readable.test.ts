import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ADMIN, backends, buildTestApp } from '../helper.js';
import { basic } from './auth.helpers.js';

// experiments/search as a user who is not an admin: only what they may read, never a 500.
// Every suite here runs on each backend (SQLite, and PostgreSQL where a cluster can be started).
for (const { backend, skip } of backends()) describe(backend, { skip }, () => {
  for (const defaultPermission of ['READ', 'NO_PERMISSIONS'] as const) {
    test(`experiments/search by a non-admin (default ${defaultPermission})`, async (t) => {
      const app = await buildTestApp({ backend, auth: { defaultPermission } });
      t.after(() => app.close());
      const admin = basic(ADMIN.username, ADMIN.password);
      const shared = (await app.post('experiments/create', { name: 'shared' }, admin)).json.experiment_id;
      await app.post('experiments/create', { name: 'private' }, admin);
      await app.post('/api/2.0/lablog/users/create', { username: 'vera', password: 'vera-password-1', role: 'viewer' }, admin);
      await app.post('/api/2.0/lablog/permissions/set', { experiment_id: shared, username: 'vera', permission: 'READ' }, admin);
      const res = await app.post('experiments/search', { max_results: 100, order_by: ['last_update_time DESC'] }, basic('vera', 'vera-password-1'));
      assert.equal(res.status, 200, res.body);
      const names = res.json.experiments.map((e: { name: string }) => e.name).sort();
      assert.deepEqual(names, defaultPermission === 'READ' ? ['Default', 'private', 'shared'] : ['shared']);
    });
  }
});
