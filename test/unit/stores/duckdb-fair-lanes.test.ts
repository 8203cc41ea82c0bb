// The fair read lanes (src/limits/fair-lanes.ts): which tenant's statement gets a free lane, asserted
// by order (statements are held open by the test, so nothing depends on speed), then the same on a
// real DuckDB database through Db.query under a request's meter.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { deferred, type Deferred } from '../../../ingest/helpers/deferred.ts';
import { createFairLanes } from '../../../src/limits/fair-lanes.ts';
import { withQueryMeter } from '../../../src/limits/query-time.ts';
import { openDb } from '../../../src/stores/duckdb/connection.ts';
import { REMEMBERED_TENANTS } from '../../../src/tenant.ts';

/** Queues a statement of `tenant` that runs until the test releases it; records its start and lane. */
function statementOf(lanes: ReturnType<typeof createFairLanes<string>>, started: string[], tenant: string, name: string) {
  const release: Deferred<void> = deferred();
  const done = lanes.run(tenant, async (lane) => {
    started.push(`${name}@${lane}`);
    await release.promise;
    return name;
  });
  return { release: () => release.resolve(), done };
}

const names = (started: string[]) => started.map((s) => s.split('@')[0]);

describe('fair read lanes', () => {
  it('one tenant holds at most all lanes but one: another tenant starts at once beside its flood', async () => {
    const lanes = createFairLanes(['l1', 'l2', 'l3']);
    const started: string[] = [];
    const a = Array.from({ length: 5 }, (_, i) => statementOf(lanes, started, 'a', `a${i}`));
    assert.deepEqual(names(started), ['a0', 'a1'], 'tenant a alone gets two of three lanes');
    assert.equal(lanes.waiting('a'), 3);
    const b = statementOf(lanes, started, 'b', 'b0');
    assert.deepEqual(names(started), ['a0', 'a1', 'b0'], 'tenant b starts on the lane a cannot take');
    assert.equal(lanes.running('b'), 1);
    b.release();
    assert.equal(await b.done.then((r) => r.value), 'b0');
    for (const s of a) s.release();
    assert.deepEqual((await Promise.all(a.map((s) => s.done))).map((r) => r.value), ['a0', 'a1', 'a2', 'a3', 'a4']);
    assert.equal(lanes.running(), 0);
    assert.equal(lanes.waiting(), 0);
    await lanes.idle();
  });

  it('a free lane goes to the tenant with fewer statements running, then round-robin, not in arrival order', async () => {
    const lanes = createFairLanes(['only']);
    const started: string[] = [];
    const a = Array.from({ length: 3 }, (_, i) => statementOf(lanes, started, 'a', `a${i}`));
    const b = Array.from({ length: 2 }, (_, i) => statementOf(lanes, started, 'b', `b${i}`));
    const c = statementOf(lanes, started, 'c', 'c0');
    // Release each statement once it has started, in the order the lanes chose.
    const all = new Map<string, ReturnType<typeof statementOf>>([...a.map((s, i) => [`a${i}`, s] as const), ...b.map((s, i) => [`b${i}`, s] as const), ['c0', c] as const]);
    for (let i = 0; i < all.size; i++) {
      const name = names(started)[i]!;
      all.get(name)!.release();
      await all.get(name)!.done;
      // The lane is handed on once the finished statement's bookkeeping ran (a later microtask).
      await new Promise((res) => setImmediate(res));
    }
    // a arrived first with three statements; b and c each get a turn before a's second.
    assert.deepEqual(names(started), ['a0', 'b0', 'c0', 'a1', 'b1', 'a2']);
    const stats = lanes.stats();
    assert.equal(stats.get('a')?.statements, 3);
    assert.equal(stats.get('b')?.statements, 2);
    assert.equal(stats.get('c')?.statements, 1);
  });

  it('remembers the statistics and turn order of the REMEMBERED_TENANTS most recent tenants, not of every tenant ever seen', async () => {
    const lanes = createFairLanes(['l1', 'l2']);
    for (let i = 0; i < REMEMBERED_TENANTS + 100; i++) await lanes.run(`t${i}`, () => Promise.resolve(i));
    const stats = lanes.stats();
    assert.equal(stats.size, REMEMBERED_TENANTS);
    assert.equal(stats.has('t0'), false, 'the least recent tenant is forgotten');
    assert.equal(stats.get(`t${REMEMBERED_TENANTS + 99}`)?.statements, 1);
  });

  it('a failing statement frees its lane and rejects only its own caller', async () => {
    const lanes = createFairLanes(['only']);
    const failed = lanes.run('a', () => Promise.reject(new Error('boom')));
    const next = lanes.run('b', () => Promise.resolve('ok'));
    await assert.rejects(failed, /boom/);
    assert.equal((await next).value, 'ok');
  });

  it('on a real database, the second tenant reads before the first tenant queued reads; meters get each statement\'s share', async () => {
    const db = await openDb({ path: ':memory:', readLanes: 1, writeTables: [], setup: async () => undefined, setupWriteLane: async () => undefined });
    try {
      const finished: string[] = [];
      const slow = 'SELECT count(*) AS n FROM range(3000000) t(x) WHERE x % 7 = 3';
      const meterA = { ms: 0, tenant: 'a' };
      const meterB = { ms: 0, tenant: 'b' };
      const aReads = [1, 2, 3].map((i) => withQueryMeter(meterA, () => db.query(slow).then(() => finished.push(`a${i}`))));
      const bRead = withQueryMeter(meterB, () => db.query('SELECT 42 AS answer').then((rows) => (finished.push('b1'), rows)));
      const [row] = await bRead;
      assert.equal(Number(row!.answer), 42);
      await Promise.all(aReads);
      assert.deepEqual(finished, ['a1', 'b1', 'a2', 'a3'], 'b waited for the running statement only, not for a\'s queue');
      assert.ok(meterA.ms > 0 && meterB.ms > 0, 'each request was charged its statements');
      const stats = db.readStats();
      assert.equal(stats.get('a')?.statements, 3);
      assert.equal(stats.get('b')?.statements, 1);
    } finally {
      await db.close();
    }
  });
});
