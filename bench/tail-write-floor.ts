// npm run bench:tail-write-floor — the floor under bench:tail's cost per delivered event: a bare
// `socket.write` of the same payload (one graphql-ws `next` message as one WebSocket text frame,
// built once) to N loopback sockets, the writer pinned to one core like bench:tail's gateway, the
// readers (plain sockets that discard what they read) on the other. Prints CPU µs per write (user +
// system of the writing process, which on loopback includes the receive side billed to the
// sender) at the rate given, and the same per write when the frames of one "delivery pass" to a
// socket are concatenated (k events per write).
// Usage: taskset -c 0 node --import tsx bench/tail-write-floor.ts [--sockets 1000] [--rate 10000] [--seconds 5]
import { createServer, connect, type Socket } from 'node:net';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { loadavg } from 'node:os';
import { arg, fmt, machine } from './lib.ts';
import { textFrame } from '../src/server/compiled-subscriptions.ts';

if (process.argv[2] === '--reader') {
  // The readers: N connections to the writer's port, reading and discarding.
  const port = Number(process.argv[3]);
  const n = Number(process.argv[4]);
  let open = 0;
  for (let i = 0; i < n; i++) {
    const s = connect(port, '127.0.0.1', () => {
      if (++open === n) process.send!('ready');
    });
    s.on('data', () => {});
  }
} else {
  const sockets = arg('sockets', 1000);
  const rate = arg('rate', 10_000);
  const seconds = arg('seconds', 5);
  // The payload bench:tail delivers: one span event with its id and `bench.req` attribute.
  const message = `{"id":"${'0'.repeat(8)}-0000-4000-8000-${'0'.repeat(12)}","type":"next","payload":{"data":{"tailSpans":{"dropped":0,"span":{"spanId":"0123456789abcdef","attribute":"123"}}}}}`;
  const frame = Buffer.concat(textFrame(message));
  const accepted: Socket[] = [];
  const server = createServer((s) => {
    s.setNoDelay(true);
    accepted.push(s);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as { port: number }).port;
  // The readers on the other core.
  const reader = spawn('taskset', ['-c', '1', process.execPath, '--import', 'tsx', fileURLToPath(import.meta.url), '--reader', String(port), String(sockets)], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  await new Promise<void>((r) => reader.once('message', () => r()));
  while (accepted.length < sockets) await new Promise((r) => setTimeout(r, 10));

  const prefix = message.slice(0, message.indexOf('"payload":') + '"payload":'.length);
  /** What push delivery does per event besides executing: serialise the result, frame it, one buffer. */
  const framed = (i: number) =>
    Buffer.concat(textFrame(prefix + JSON.stringify({ data: { tailSpans: { dropped: 0, span: { spanId: '0123456789abcdef', attribute: String(i % 400) } } } }) + '}'));

  /**
   * Writes `rate` frames a second for `seconds`, `perWrite` frames at a time to the next socket;
   * `build` serialises and frames each write's payload anew instead of reusing one.
   */
  async function run(perWrite: number, build = false): Promise<{ cpuUsPerEvent: number; writes: number }> {
    const payload = perWrite === 1 ? frame : Buffer.concat(Array.from({ length: perWrite }, () => frame));
    const tickMs = 10;
    const perTick = Math.max(1, Math.round((rate * tickMs) / 1000 / perWrite));
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    let writes = 0;
    let next = 0;
    while (performance.now() - t0 < seconds * 1000) {
      for (let i = 0; i < perTick; i++) {
        accepted[next]!.write(build ? framed(writes) : payload);
        next = (next + 1) % accepted.length;
        writes++;
      }
      await new Promise((r) => setTimeout(r, tickMs));
    }
    const c = process.cpuUsage(c0);
    return { cpuUsPerEvent: (c.user + c.system) / (writes * perWrite), writes };
  }

  console.log(`machine: ${machine()}; load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  console.log(`${sockets} loopback sockets, a ${frame.length}-byte frame, ~${fmt(rate, 0)} events/s for ${seconds} s each (the CPU includes this process's idle timer ticks)`);
  await run(1); // warm-up
  for (const k of [1, 1, 4, 16]) {
    const r = await run(k);
    console.log(`  ${String(k).padStart(2)} event(s) per write: ${fmt(r.cpuUsPerEvent, 2)} µs CPU per event (${fmt(r.writes, 0)} writes)`);
  }
  for (let i = 0; i < 2; i++) {
    const r = await run(1, true);
    console.log(`   1 event per write, serialised and framed per event as push delivery does: ${fmt(r.cpuUsPerEvent, 2)} µs CPU per event (${fmt(r.writes, 0)} writes)`);
  }
  reader.kill();
  for (const s of accepted) s.destroy();
  server.close();
}
