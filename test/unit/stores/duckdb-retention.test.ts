// Retention on a real DuckDB file: what one pass deletes together stays consistent, and a log ID is
// never given twice, even after retention deleted every log of its tenant and the store reopened.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { silentLogger } from '../../../src/logger.ts';
import { openDuckDbStore } from '../../../src/stores/duckdb/index.ts';
import { retentionPlan, startRetention } from '../../../src/stores/duckdb/retention.ts';
import { log, span, spanId, traceId } from '../../helpers/telemetry-builders.ts';

const dir = mkdtempSync(join(tmpdir(), 'teleql-retention-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const HOUR_MS = 3_600_000;
const plan = (window: string) => retentionPlan({ period: window, traces: '', logs: '', metrics: '', interval: '1h', batchRows: 1000 });

test('a window under a millisecond is a window of 1 ms, not "keep forever"', () => {
  assert.deepEqual(plan('500us').windows, { traces: 1, logs: 1, metrics: 1 });
  assert.deepEqual(plan('0').windows, { traces: null, logs: null, metrics: null });
});

test('one cutoff per signal per pass: a span just inside the window keeps its trace_ranges row, so trace-by-id finds it', async () => {
  const store = await openDuckDbStore({ path: join(dir, 'cutoff.duckdb'), logger: silentLogger() });
  try {
    const base = Date.now();
    // The clock moves 1 s each time it is read: a cutoff read per table moved between spans and trace_ranges.
    let reads = 0;
    const now = () => base + 1000 * reads++;
    const startNs = BigInt(base - HOUR_MS + 500) * 1_000_000n; // 0.5 s inside the window at the pass's first reading
    await store.writer.writeSpans([span({ tenant: 't', traceId: traceId(1), spanId: spanId(1), startTimeUnixNano: startNs, endTimeUnixNano: startNs + 1_000_000n })]);
    const retention = startRetention(store.db, { plan: plan('1h'), logger: silentLogger(), now });
    const deleted = await retention.runPass();
    await retention.stop();
    assert.equal(deleted.spans, 0);
    assert.equal(deleted.trace_ranges, 0, 'the range row goes with its spans, not before them');
    const [trace] = await store.traces.getTraces('t', [traceId(1)]);
    assert.equal(trace!.length, 1);
  } finally {
    await store.close();
  }
});

test('log IDs continue after retention deleted all of a tenant’s logs and the store reopened', async () => {
  const path = join(dir, 'log-ids.duckdb');
  const old = BigInt(Date.now() - 2 * HOUR_MS) * 1_000_000n;
  let store = await openDuckDbStore({ path, logger: silentLogger() });
  await store.writer.writeLogs([log({ tenant: 'acme', timeUnixNano: old, body: { stringValue: 'first' } }), log({ tenant: 'acme', timeUnixNano: old, body: { stringValue: 'second' } })]);
  const ids = async () => (await store.logs.searchLogs('acme', {}, { first: 10 })).items.map((e) => [e.node.id, (e.node.body as { stringValue: string }).stringValue]);
  assert.deepEqual((await ids()).map(([id]) => id).sort(), ['1', '2']);
  const retention = startRetention(store.db, { plan: plan('1h'), logger: silentLogger() });
  assert.equal((await retention.runPass()).logs, 2);
  await retention.stop();
  await store.close();

  store = await openDuckDbStore({ path, logger: silentLogger() });
  try {
    await store.writer.writeLogs([log({ tenant: 'acme', timeUnixNano: BigInt(Date.now()) * 1_000_000n, body: { stringValue: 'later' } })]);
    assert.deepEqual(await ids(), [['3', 'later']]);
    assert.deepEqual(await store.logs.getLogs('acme', ['1']), [null], 'ID 1 names nothing: it is not given to another record');
  } finally {
    await store.close();
  }
});
