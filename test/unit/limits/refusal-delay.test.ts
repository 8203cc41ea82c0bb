// The tarpit's decisions and bookkeeping on a controlled clock: which refusals are held, until
// when, the caps, dropping, close() at shutdown, and what /metrics reports.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRefusalDelay, type RefusalDelayConfig } from '../../../src/limits/refusal-delay.ts';
import { deferred } from '../../../ingest/helpers/deferred.ts';

const CFG: RefusalDelayConfig = { afterRefusals: 2, maxMs: 60_000, maxHeld: 5, maxHeldPerTenant: 3 };
const window = (refusals: number, endsAt: number) => ({ refusals, endsAt });
/** The tarpit's timers are unref'd (they never keep a process up): the test keeps its own loop alive while it waits for one. */
async function waitFor(p: Promise<void>): Promise<void> {
  const alive = setInterval(() => {}, 1000);
  try {
    await p;
  } finally {
    clearInterval(alive);
  }
}
const sample = (delay: ReturnType<typeof createRefusalDelay>, name: string, transport: string) =>
  delay.metrics().find((m) => m.name === name && m.labels?.transport === transport)?.value;

test('refusals up to the threshold are answered at once; later ones are held until their window ends', async () => {
  const delay = createRefusalDelay(CFG);
  const answered: string[] = [];
  assert.equal(delay.hold('otlp_http', 'a', window(1, Date.now() + 60_000), () => answered.push('1')), undefined);
  assert.equal(delay.hold('otlp_http', 'a', window(2, Date.now() + 60_000), () => answered.push('2')), undefined);
  const done = deferred();
  const held = delay.hold('otlp_http', 'a', window(3, Date.now() + 30), () => {
    answered.push('3');
    done.resolve();
  });
  assert.ok(held, 'the third refusal of the window is held');
  assert.deepEqual(answered, [], 'not answered yet (the caller answers the ones not held)');
  assert.equal(sample(delay, 'teleql_refusals_held', 'otlp_http'), 1);
  await waitFor(done.promise); // the window's end
  assert.deepEqual(answered, ['3']);
  assert.deepEqual(delay.stats().otlp_http, { held: 0, delayed: 1, capped: 0 });
  assert.equal(sample(delay, 'teleql_refusals_delayed_total', 'otlp_http'), 1);
  assert.equal(sample(delay, 'teleql_refusals_held', 'graphql'), 0);
  delay.close();
});

test('held refusals are answered spread over the second after their window ends, not all at once', async () => {
  // bench:abuse (session 28): answered together, a flooder's held requests came back together and
  // the next window's allowance was admitted in one burst beside a quiet tenant.
  const draws = [0.9, 0.0, 0.5];
  const delay = createRefusalDelay(CFG, undefined, Date.now, () => draws.shift()!);
  const endsAt = Date.now() + 20;
  const answered: { i: number; at: number }[] = [];
  const all = deferred();
  for (const i of [0, 1, 2]) {
    const held = delay.hold('otlp_http', 'a', window(5, endsAt), () => {
      answered.push({ i, at: Date.now() });
      if (answered.length === 3) all.resolve();
    });
    assert.ok(held, `refusal ${i} is held`);
  }
  await waitFor(all.promise);
  assert.deepEqual(answered.map((a) => a.i), [1, 2, 0], 'answered in the order of their draws (0, 0.5, 0.9 of a second after the end)');
  assert.ok(answered[0]!.at >= endsAt - 2, 'none before the window ends');
  assert.ok(answered[2]!.at - answered[0]!.at >= 500, `spread over the second after it (${answered[2]!.at - answered[0]!.at} ms apart)`);
  delay.close();
});

test('a window that has already ended, maxMs 0 or afterRefusals 0 hold nothing', () => {
  assert.equal(createRefusalDelay(CFG).hold('graphql', 'a', window(9, Date.now() - 1), () => {}), undefined);
  assert.equal(createRefusalDelay({ ...CFG, maxMs: 0 }).hold('graphql', 'a', window(9, Date.now() + 1000), () => {}), undefined);
  assert.equal(createRefusalDelay({ ...CFG, afterRefusals: 0 }).hold('graphql', 'a', window(9, Date.now() + 1000), () => {}), undefined);
});

test('the per-tenant and total caps: beyond them refusals are answered at once and counted', () => {
  const delay = createRefusalDelay(CFG);
  const far = window(10, Date.now() + 60_000);
  const a = [1, 2, 3, 4].map(() => delay.hold('graphql', 'a', far, () => {}));
  assert.deepEqual(a.map(Boolean), [true, true, true, false], 'maxHeldPerTenant 3');
  const b = [1, 2, 3].map(() => delay.hold('otlp_grpc', 'b', far, () => {}));
  assert.deepEqual(b.map(Boolean), [true, true, false], 'maxHeld 5 in all');
  assert.deepEqual(delay.stats().graphql, { held: 3, delayed: 3, capped: 1 });
  assert.deepEqual(delay.stats().otlp_grpc, { held: 2, delayed: 2, capped: 1 });
  // A dropped hold frees its place, and is never answered.
  a[0]!.drop();
  a[0]!.drop();
  assert.equal(delay.stats().graphql.held, 2);
  assert.ok(delay.hold('graphql', 'c', far, () => {}), 'room again for one');
  delay.close();
});

test('close() answers every held refusal at once and holds no more; a dropped one stays unanswered', () => {
  const delay = createRefusalDelay(CFG);
  const answered: number[] = [];
  const far = window(10, Date.now() + 60_000);
  const held = [0, 1, 2].map((i) => delay.hold('otlp_http', `t${i}`, far, () => answered.push(i)));
  held[1]!.drop();
  delay.close();
  assert.deepEqual(answered, [0, 2]);
  assert.equal(delay.stats().otlp_http.held, 0);
  assert.equal(delay.hold('otlp_http', 'x', far, () => {}), undefined, 'after close, answered at once');
});

test('an answer that throws does not keep the others from being answered', () => {
  const delay = createRefusalDelay(CFG);
  const far = window(10, Date.now() + 60_000);
  const answered: string[] = [];
  delay.hold('graphql', 'a', far, () => {
    throw new Error('socket gone');
  });
  delay.hold('graphql', 'b', far, () => answered.push('b'));
  delay.close();
  assert.deepEqual(answered, ['b']);
});

test('the hold is at most maxMs, even in a longer window', async () => {
  const delay = createRefusalDelay({ ...CFG, maxMs: 20 });
  const done = deferred();
  // A window of an hour: without maxMs the answer would not come before the test's timeout.
  delay.hold('otlp_http', 'a', window(10, Date.now() + 3_600_000), () => done.resolve());
  await waitFor(done.promise);
  assert.equal(delay.stats().otlp_http.held, 0);
});
