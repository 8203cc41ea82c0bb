// Strings over 4 KB (attribute values, bodies) in a file store with the default 64 MB memory limit.
// DuckDB 1.5 keeps their blocks in memory until its instance closes; before this, 16 KB attributes
// invalidated the database after ~40 MB ("checkpointing failed"), and every statement failed after.
// The store now reopens its instance every quarter of the memory limit of such strings, and
// reopens it too when a statement finds the database invalidated.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { silentLogger } from '../../../src/logger.ts';
import { openDuckDbStore } from '../../../src/stores/duckdb/index.ts';
import { attrs, resource, span, spanId, T0, traceId } from '../../helpers/telemetry-builders.ts';
import { tempStorePaths } from '../../helpers/temp-store.ts';

const tempPath = tempStorePaths('long-strings');
const open = () => openDuckDbStore({ path: tempPath(), logger: silentLogger(), threads: 2, memoryLimit: '64MB' });
const res = resource('long');

function batch(b: number, per: number, chars: number) {
  const long = 'x'.repeat(chars);
  return Array.from({ length: per }, (_, i) =>
    span({ tenant: 'a', traceId: traceId(b + 1), spanId: spanId(b * per + i + 1), resource: res, startTimeUnixNano: T0 + BigInt(b * per + i), attributes: attrs({ blob: `${b}-${i}-${long}` }) }),
  );
}

describe('DuckDB store: long strings', () => {
  it('takes 16 KB attributes far past its memory limit, reopening its instance on the way', async () => {
    const store = await open();
    const batches = 30; // 30 × 256 spans × 16 KB × 2 columns = 240 MB of long strings
    for (let b = 0; b < batches; b++) await store.writer.writeSpans(batch(b, 256, 16_384));
    assert.ok(store.db.reopens >= 5, `reopens: ${store.db.reopens}`);
    for (const b of [0, batches - 1]) {
      const [trace] = await store.traces.getTraces('a', [traceId(b + 1)]);
      assert.equal(trace!.length, 256);
      assert.equal((trace![0]!.attributes[0]!.value as { stringValue: string }).stringValue.length, `${b}-0-`.length + 16_384);
    }
    await store.close();
  });

  it('past what it can take (256 KB attributes), a commit DuckDB calls durable is not written twice, and the store serves on', async () => {
    const store = await open();
    let written = 0;
    let failure: Error | undefined;
    for (let b = 0; b < 40 && !failure; b++) {
      try {
        await store.writer.writeSpans(batch(b, 16, 262_144));
        written++;
      } catch (err) {
        failure = err as Error;
      }
    }
    assert.ok(failure, `${written} batches of 16 × 256 KB all written: DuckDB's limit moved; this test needs a larger load`);
    assert.equal(failure.name, 'StoreError');
    // Every batch that was acknowledged is there once.
    const counts = await store.db.query(`SELECT trace_id, count(*)::INTEGER AS n FROM spans GROUP BY trace_id`);
    assert.ok(counts.length >= written);
    assert.ok(counts.every((r) => r.n === 16), JSON.stringify(counts));
    // Small writes and reads still work (before, the database was invalidated: every statement failed).
    const small = span({ tenant: 'a', traceId: traceId(999), spanId: spanId(999_999), resource: res });
    await store.writer.writeSpans([small]);
    const [trace] = await store.traces.getTraces('a', [traceId(999)]);
    assert.equal(trace!.length, 1);
    await store.close().catch(() => undefined); // its last checkpoint may fail the same way: the WAL keeps the data
  });
});
