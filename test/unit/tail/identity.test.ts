// A record's identity across a replay's seam (src/tail/identity.ts): the copy read back from the
// real DuckDB store is the one published live, and two sources of one service are not.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { silentLogger } from '../../../src/logger.ts';
import { openDuckDbStore } from '../../../src/stores/duckdb/index.ts';
import { logIdentity, metricPointIdentity, type RecordIdentity } from '../../../src/tail/identity.ts';
import { attrs, log, metricPoint, numberPoint, resource, scope, T0 } from '../../helpers/telemetry-builders.ts';

const podA = resource('checkout', { 'k8s.pod.name': 'checkout-a' });
const podB = resource('checkout', { 'k8s.pod.name': 'checkout-b' });

/** Whether `stored` is a copy of `live` by `identity`: kept whole (one key), or cut. */
const isCopy = <R>(identity: RecordIdentity<R>, stored: R, live: R): boolean =>
  identity.key(stored) === identity.key(live) || (identity.cutCopy !== undefined && identity.cutCopy.key(stored) === identity.cutCopy.key(live) && identity.cutCopy.matches(stored, live));

/** Each stored record matched to the one live record it is a copy of. */
function copiesOf<R>(identity: RecordIdentity<R>, stored: R[], live: R[]): number[] {
  return stored.map((s) => {
    const matches = live.flatMap((l, i) => (isCopy(identity, s, l) ? [i] : []));
    assert.equal(matches.length, 1, 'a stored record is the copy of exactly one live record');
    return matches[0]!;
  });
}

test('two pods of one service logging one line at one instant are two records; a stored copy keys as the live one, also cut', async (t) => {
  // They keyed alike (service name only), so at the seam the second pod's line was taken for the
  // first's stored copy and not sent; and a value the store cuts (over 16,000 characters) keyed
  // apart from its whole live copy, so it was sent twice.
  const store = await openDuckDbStore({ path: ':memory:', logger: silentLogger() });
  t.after(() => store.close());
  const live = [
    log({ tenant: 'a', resource: podA, timeUnixNano: T0, body: { stringValue: 'pool exhausted' } }),
    log({ tenant: 'a', resource: podB, timeUnixNano: T0, body: { stringValue: 'pool exhausted' } }),
    log({ tenant: 'a', resource: podA, scope: scope('other-lib'), timeUnixNano: T0, body: { stringValue: 'pool exhausted' } }),
    log({ tenant: 'a', resource: podA, timeUnixNano: T0 + 1n, body: { stringValue: 'y'.repeat(20_000) }, attributes: attrs({ prompt: 'p'.repeat(30_000) }) }),
  ];
  await store.writer.writeLogs(live);
  const stored = (await store.logs.searchLogs('a', { timeRange: { from: 0n } }, { first: 10, order: 'OLDEST_FIRST' })).items.map((i) => i.node);
  assert.equal(stored.length, 4);
  assert.ok(JSON.stringify(stored.at(-1)!.body).length < 20_000, 'the store cut the long body');
  for (const [i, a] of live.entries()) for (const [j, b] of live.entries()) assert.equal(isCopy(logIdentity, a, b), i === j, 'pods and scopes are apart');
  assert.deepEqual(copiesOf(logIdentity, stored, live).sort(), [0, 1, 2, 3], 'each stored copy is its live one');

  const gauge = (res: typeof podA) => metricPoint(numberPoint({ timeUnixNano: T0, asDouble: 3 }), { name: 'queue.depth', type: 'gauge' }, { tenant: 'a', resource: res });
  const points = [gauge(podA), gauge(podB)];
  await store.writer.writeMetrics(points);
  const read = await store.metrics.points('a', 'queue.depth', { from: 0n, to: T0 + 1n }, 10);
  assert.equal(isCopy(metricPointIdentity, points[0]!, points[1]!), false);
  assert.deepEqual(copiesOf(metricPointIdentity, read, points).sort(), [0, 1]);
});
