// Reads a gateway CPU profile written by `npm run bench:tail -- --profile DIR` and prints
// - every stretch of the main thread busy without a break (no idle sample) for ≥ --min-ms
//   (default 60), with what it was doing, sample by sample: the events waiting behind such a
//   stretch wait at least that long;
// - the profile's busy time by part (`--from S --to S` narrows it to a phase: bench:tail prints each
//   phase's window in the profile's clock, monotonic seconds), for µs per delivered event.
// Usage: node --import tsx bench/tail-profile.ts FILE.cpuprofile [--min-ms 60] [--from S --to S]
import { readFileSync } from 'node:fs';
import { arg, fmt } from './lib.ts';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string };
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
}

const file = process.argv[2];
if (!file) throw new Error('usage: bench/tail-profile.ts FILE.cpuprofile [--min-ms 60] [--from S --to S]');
const minMs = arg('min-ms', 60);
const from = arg('from', 0) * 1e6;
const to = arg('to', Infinity) * 1e6;
const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const parent = new Map<number, number>();
for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);

// Parts, first match from the sampled frame up to the root wins (delivery runs inside ingest's
// publish, so it is checked before decode).
const PARTS: [string, (f: ProfileNode['callFrame']) => boolean][] = [
  ['gc', (f) => f.functionName === '(garbage collector)'],
  ['socket write', (f) => /^(writev|writeBuffer|writeUtf8String|writeGeneric|_writeGeneric|handleWriteReq)$/.test(f.functionName)],
  ['ws frame (Sender.frame)', (f) => f.url.includes('/ws/lib/sender')],
  ['serialise (JSON.stringify)', (f) => f.functionName === 'stringify'],
  ['compiled execution', (f) => f.url.includes('graphql-jit')],
  ['push delivery (compiled-subscriptions)', (f) => f.url.includes('compiled-subscriptions')],
  ['bus match/dispatch', (f) => f.url.includes('/tail/bus') || f.url.includes('/tail/tap') || f.url.includes('filter-predicate')],
  ['store writer', (f) => f.url.includes('/stores/duckdb/')],
  ['OTLP decode', (f) => f.url.includes('/receivers/') || f.url.includes('protobufjs') || f.url.includes('/otlp/')],
  ['gRPC / HTTP2', (f) => f.url.includes('@grpc') || f.url.includes('node:http2') || f.url.includes('internal/http2')],
  ['graphql-ws / yoga / ws', (f) => f.url.includes('graphql-ws') || f.url.includes('graphql-yoga') || f.url.includes('/ws/lib/') || f.url.includes('@envelop')],
  ['ingest pipeline', (f) => f.url.includes('/ingest/')],
];
const partCache = new Map<number, string>();
function partOf(id: number): string {
  const cached = partCache.get(id);
  if (cached) return cached;
  const frames: ProfileNode['callFrame'][] = [];
  for (let n: number | undefined = id; n !== undefined; n = parent.get(n)) frames.push(byId.get(n)!.callFrame);
  let part = frames[0]!.functionName === '(idle)' ? 'idle' : frames[0]!.functionName === '(program)' ? 'program (native, unattributed)' : 'other';
  if (part === 'other') {
    outer: for (const [name, test] of PARTS) for (const f of frames) if (test(f)) {
      part = name;
      break outer;
    }
  }
  partCache.set(id, part);
  return part;
}

let t = profile.startTime;
const totals = new Map<string, number>();
let stretch: { start: number; end: number; parts: Map<string, number> } | undefined;
const stretches: NonNullable<typeof stretch>[] = [];
profile.samples.forEach((id, i) => {
  const dt = profile.timeDeltas[i] ?? 0;
  t += dt;
  const part = partOf(id);
  if (t >= from && t <= to && part !== 'idle') totals.set(part, (totals.get(part) ?? 0) + dt);
  if (part === 'idle') {
    if (stretch && (stretch.end - stretch.start) / 1000 >= minMs && stretch.end >= from && stretch.start <= to) stretches.push(stretch);
    stretch = undefined;
    return;
  }
  stretch ??= { start: t - dt, end: t, parts: new Map() };
  stretch.end = t;
  stretch.parts.set(part, (stretch.parts.get(part) ?? 0) + dt);
});

console.log(`profile: monotonic ${(profile.startTime / 1e6).toFixed(3)} s on\nbusy stretches ≥ ${minMs} ms (monotonic s: wall ms — parts in ms):`);
for (const s of stretches) {
  const parts = [...s.parts].sort((a, b) => b[1] - a[1]).map(([p, us]) => `${p} ${fmt(us / 1000, 0)}`);
  console.log(`  ${(s.start / 1e6).toFixed(3)} s: ${fmt((s.end - s.start) / 1000, 0)} ms — ${parts.join(', ')}`);
}
const busy = [...totals.values()].reduce((a, b) => a + b, 0);
console.log(`\nbusy time by part${from || to !== Infinity ? ` (${from / 1e6}–${to / 1e6} s)` : ''}: ${fmt(busy / 1000, 0)} ms`);
for (const [p, us] of [...totals].sort((a, b) => b[1] - a[1])) console.log(`  ${p.padEnd(40)} ${fmt(us / 1000, 0).padStart(8)} ms  ${fmt((us / busy) * 100, 1).padStart(5)} %`);
