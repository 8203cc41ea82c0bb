// FrameFlusher (src/server/compiled-subscriptions.ts): which hold a round gets from the event loop's
// load, and that a round runs every write scheduled in it once. The load and the clock are
// injected: no test here waits for a busy event loop.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BUSY_LOAD, FrameFlusher, eventLoopLoad } from '../../../src/server/compiled-subscriptions.ts';

test('frames are held for busyIntervalMs while the load is at least BUSY_LOAD, else for intervalMs', () => {
  let load = 0;
  const flusher = new FrameFlusher({ intervalMs: 0, busyIntervalMs: 100 }, () => load);
  assert.equal(flusher.holdMs(), 0, 'an idle loop: at once');
  load = BUSY_LOAD - 0.01;
  assert.equal(flusher.holdMs(), 0);
  load = BUSY_LOAD;
  assert.equal(flusher.holdMs(), 100, 'a saturated loop: held');
  // A busy hold shorter than the idle one is not used (the longer of the two applies when busy).
  assert.equal(new FrameFlusher({ intervalMs: 20, busyIntervalMs: 5 }, () => 1).holdMs(), 20);
  assert.equal(new FrameFlusher({ intervalMs: 0, busyIntervalMs: 0 }, () => 1).holdMs(), 0);
});

test('with nothing to hold, a write runs at once; held writes run together at the round, each once, in order', async () => {
  const at0 = new FrameFlusher({ intervalMs: 0, busyIntervalMs: 0 });
  const ran: string[] = [];
  at0.schedule(() => ran.push('now'));
  assert.deepEqual(ran, ['now']);

  const held = new FrameFlusher({ intervalMs: 30, busyIntervalMs: 30 });
  held.schedule(() => ran.push('a'));
  held.schedule(() => ran.push('b'));
  assert.deepEqual(ran, ['now'], 'held until the round');
  await new Promise((r) => setTimeout(r, 60));
  assert.deepEqual(ran, ['now', 'a', 'b']);
  held.schedule(() => ran.push('c'));
  held.flush(); // what the server's stop does
  held.flush();
  await new Promise((r) => setTimeout(r, 60));
  assert.deepEqual(ran, ['now', 'a', 'b', 'c'], 'flush runs the held write once, and the round it cancelled does not run it again');
});

test('eventLoopLoad reports the utilization both of the last two complete windows reached, not of a window still open', async () => {
  let clock = 0;
  const load = eventLoopLoad(500, () => clock);
  const spin = (ms: number) => {
    const until = performance.now() + ms;
    while (performance.now() < until);
  };
  assert.equal(load(), 0, 'no window complete yet');
  // Keep the loop busy for ~60 ms of real time, then close the window on the injected clock.
  spin(60);
  clock = 500;
  assert.equal(load(), 0, 'one busy window is a busy stretch, not saturation');
  spin(60);
  clock = 1000;
  const busy = load();
  assert.ok(busy > 0.5, `two windows spent spinning are saturation (${busy})`);
  clock = 1200;
  assert.equal(load(), busy, 'the open window does not change the figure');
  await new Promise((r) => setTimeout(r, 100)); // idle
  clock = 1500;
  assert.ok(load() < busy, 'a window spent waiting on a timer ends it');
});

test('a write scheduled during a round runs in that round, after the ones scheduled before it', () => {
  // Push delivery takes events at the round and schedules their frames' write from there: held a
  // second round, every event would wait twice the hold.
  const held = new FrameFlusher({ intervalMs: 1000, busyIntervalMs: 1000 });
  const ran: string[] = [];
  held.schedule(() => {
    ran.push('take a');
    held.schedule(() => ran.push('write a'));
  });
  held.schedule(() => ran.push('take b'));
  held.flush();
  assert.deepEqual(ran, ['take a', 'take b', 'write a']);
  held.schedule(() => ran.push('next round'));
  assert.equal(ran.length, 3, 'after the round, writes are held again');
  held.flush();
  assert.deepEqual(ran.at(-1), 'next round');
});
