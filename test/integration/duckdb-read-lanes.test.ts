// storage.duckdb.readLanes reaches the store: with one read lane, another tenant's read waits for
// the running statement (and only it); with the default three it would have run beside it and
// finished first. Asserted by completion order, the slow statement being ~1,000× the fast one.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { withQueryMeter } from '../../src/limits/query-time.ts';
import { startGateway, type TestGateway } from '../helpers/gateway.ts';

let gw: TestGateway;
before(async () => {
  gw = await startGateway({ storage: { duckdb: { readLanes: 1 } } });
});
after(async () => {
  await gw?.stop();
});

test('a gateway with storage.duckdb.readLanes: 1 runs one read at a time, tenants taking turns', async () => {
  const db = gw.app.internals.store()!.db;
  const slow = 'SELECT count(*) AS n FROM range(3000000) t(x) WHERE x % 7 = 3';
  const finished: string[] = [];
  const aReads = [1, 2].map((i) => withQueryMeter({ ms: 0, tenant: 'a' }, () => db.query(slow).then(() => finished.push(`a${i}`))));
  const bRead = withQueryMeter({ ms: 0, tenant: 'b' }, () => db.query('SELECT 42 AS answer').then(() => finished.push('b1')));
  await Promise.all([...aReads, bRead]);
  assert.deepEqual(finished, ['a1', 'b1', 'a2']);
});
