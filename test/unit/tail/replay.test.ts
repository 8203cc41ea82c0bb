// The seam of a `since` replay, with the real bus and a store read that lets the test publish live
// records while the replay reads: exactly when the gateway's would.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { createTailBus } from '../../../src/tail/bus.ts';
import { spanIdentity } from '../../../src/tail/identity.ts';
import { replayThenLive, ReplayLimitError, type ReplayEvent, type ReplaySubscription } from '../../../src/tail/replay.ts';
import type { SpanRecord } from '../../../src/model/telemetry.ts';
import { span, spanId } from '../../helpers/telemetry-builders.ts';

const s = (n: number) => span({ spanId: spanId(n) });
const num = (e: ReplayEvent<SpanRecord>) => [Number.parseInt(e.record.spanId, 16), e.replayed, e.dropped];

async function drain(it: ReplaySubscription<SpanRecord>): Promise<(number | boolean)[][]> {
  const out: (number | boolean)[][] = [];
  for (let e = it.poll(); e; e = it.poll()) out.push(num(e));
  return out;
}

// A GC the test can call without --expose-gc on the command line.
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

describe('since replay', () => {
  test('stored records first, then live ones; a record both stored and live is sent once, from the replay', async () => {
    const bus = createTailBus();
    const stored: SpanRecord[] = [s(1), s(2)];
    let settledCalls = 0;
    const live = bus.subscribe('default', 'spans', () => true);
    const sub = await replayThenLive({
      live,
      settled: async () => void settledCalls++,
      readPage: async (after) => {
        // While the replay reads: 3 is published and written before the read sees it; 4 is
        // published but not yet written.
        if (after === undefined) {
          bus.publish('default', 'spans', [s(3), s(4)]);
          stored.push(s(3));
          return { records: stored.slice(0, 2), next: 'p2' };
        }
        return { records: stored.slice(2), next: null };
      },
      identity: spanIdentity,
      maxReplay: 10,
    });
    bus.publish('default', 'spans', [s(5)]);
    assert.equal(settledCalls, 1);
    assert.deepEqual(await drain(sub), [
      [1, true, 0],
      [2, true, 0],
      [3, true, 0],
      [4, false, 0],
      [5, false, 0],
    ]);
    bus.publish('default', 'spans', [s(6)]);
    const r = await sub.next();
    assert.deepEqual(num(r.value as ReplayEvent<SpanRecord>), [6, false, 0]);
    sub.close();
    assert.equal(bus.size(), 0);
  });

  test('a subscription read by poll (push delivery) lets go of each replayed or held record once sent', async () => {
    const bus = createTailBus();
    const live = bus.subscribe('default', 'spans', () => true);
    const refs: WeakRef<SpanRecord>[] = [];
    const sub = await replayThenLive({
      live,
      settled: async () => {},
      readPage: async () => {
        const records = [s(1), s(2)];
        const held = [s(3)];
        // 3 is published during the read: held for the seam, then sent live.
        bus.publish('default', 'spans', held);
        refs.push(...[...records, ...held].map((r) => new WeakRef(r)));
        return { records, next: null };
      },
      identity: spanIdentity,
      maxReplay: 10,
    });
    assert.deepEqual(await drain(sub), [
      [1, true, 0],
      [2, true, 0],
      [3, false, 0],
    ]);
    await new Promise((r) => setImmediate(r));
    gc();
    assert.deepEqual(refs.map((r) => r.deref() === undefined), [true, true, true], 'the open subscription holds none of the records it sent');
    sub.close();
  });

  test('records published while a slow replay reads are held for the seam, not dropped by the small live buffer', async () => {
    const bus = createTailBus();
    const live = bus.subscribe('default', 'spans', () => true, { bufferSize: 3 });
    const sub = await replayThenLive({
      live,
      settled: async () => {},
      readPage: async () => {
        // Eight live records, in four publishes, while the store is read: more than the buffer holds.
        for (let n = 1; n <= 8; n += 2) bus.publish('default', 'spans', [s(n), s(n + 1)]);
        return { records: [s(1), s(2)], next: null }; // 1 and 2 were written before the read
      },
      identity: spanIdentity,
      maxReplay: 10,
    });
    assert.deepEqual(await drain(sub), [
      [1, true, 0],
      [2, true, 0],
      ...[3, 4, 5, 6, 7, 8].map((n) => [n, false, 0]),
    ]);
    // Live from here: the bus buffer (3) applies again.
    bus.publish('default', 'spans', [s(9), s(10), s(11), s(12)]);
    assert.deepEqual(await drain(sub), [
      [10, false, 1],
      [11, false, 0],
      [12, false, 0],
    ]);
    sub.close();
  });

  test('a record that really arrived twice is sent twice: copies are matched by count', async () => {
    const bus = createTailBus();
    const live = bus.subscribe('default', 'spans', () => true);
    const sub = await replayThenLive({
      live,
      settled: async () => {},
      readPage: async () => {
        bus.publish('default', 'spans', [s(1), s(1)]); // a client retry: the same span twice
        return { records: [s(1)], next: null }; // only one written so far
      },
      identity: spanIdentity,
      maxReplay: 10,
    });
    assert.deepEqual(await drain(sub), [
      [1, true, 0],
      [1, false, 0],
    ]);
    sub.close();
  });

  test('records rejected by accept are skipped; more than maxReplay fails and closes the live subscription', async () => {
    const bus = createTailBus();
    const live = bus.subscribe('default', 'spans', () => true);
    await assert.rejects(
      replayThenLive({
        live,
        settled: async () => {},
        readPage: async () => ({ records: [s(1), s(2), s(3), s(4)], next: null }),
        accept: (r) => r.spanId !== spanId(2),
        identity: spanIdentity,
        maxReplay: 2,
      }),
      (err: unknown) => err instanceof ReplayLimitError && err.value === 2 && /tail\.maxReplay = 2/.test(err.message),
    );
    assert.equal(bus.size(), 0, 'the slot is freed');

    const ok = await replayThenLive({
      live: bus.subscribe('default', 'spans', () => true),
      settled: async () => {},
      readPage: async () => ({ records: [s(1), s(2), s(3)], next: null }),
      accept: (r) => r.spanId !== spanId(2),
      identity: spanIdentity,
      maxReplay: 2,
    });
    assert.deepEqual(await drain(ok), [
      [1, true, 0],
      [3, true, 0],
    ]);
    ok.close();
  });

  test('past maxReplay records held during the replay, the bus buffer drops and the next event sent counts them', async () => {
    const bus = createTailBus({ bufferSize: 2 });
    const live = bus.subscribe('default', 'spans', () => true);
    const sub = await replayThenLive({
      live,
      settled: async () => {},
      readPage: async () => {
        bus.publish('default', 'spans', [s(10), s(11), s(12), s(13), s(14), s(15)]);
        return { records: [s(1)], next: null };
      },
      identity: spanIdentity,
      maxReplay: 2,
    });
    // 10 and 11 held by the replay (maxReplay 2); 12–15 in a buffer of 2: 12 and 13 dropped.
    assert.deepEqual(await drain(sub), [
      [1, true, 0],
      [10, false, 0],
      [11, false, 0],
      [14, false, 2],
      [15, false, 0],
    ]);
    sub.close();
  });
});
