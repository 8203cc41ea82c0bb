// What refusing a flooding tenant's OTLP/HTTP requests costs the gateway: a flooder over its ingest
// limit sends 768 KB JSON bodies without pause, ignoring 429s, at a gateway in a child process
// pinned to CPU 0 (this process and its clients on the others); the tenant's limit (1 item/s)
// admits one request, in the warm-up, and refuses the rest. Printed per configuration, alternated
// `--rounds` times so the machine's load weighs on each alike: refused requests per second, the
// gateway's main-thread and whole-process CPU (less its idle CPU), and CPU per refused request.
// Configurations: every refused body drained (`limits.ingest.closeAfterRefusals` 0, tarpit off);
// close after 32 refusals (the connection closed unread, tarpit off); close after 32 + the tarpit
// (`limits.refusalDelay` defaults: past 32 refusals in a window, each 429 held until the window
// ends, at most 5 s, its body unread).
//   node --import tsx bench/abuse-refusal.ts -- --seconds 5 --rounds 2 --flooders 8 [--only tarpit] [--gateway-entry PATH]
// `--gateway-entry` runs another checkout's bench/abuse-gateway.ts (e.g. a worktree of an older
// commit, whose config may not know these keys) as a further configuration, "other entry".
import http from 'node:http';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { cpus, loadavg } from 'node:os';
import { spansJson } from '../test/helpers/otlp-bodies.ts';
import { arg, cpuSeconds, fmt, machine } from './lib.ts';
import type { GatewayAddresses } from './abuse-gateway.ts';

const SECONDS = arg('seconds', 5);
const ROUNDS = arg('rounds', 2);
const FLOODERS = arg('flooders', 8);
const WARMUP_MS = arg('warmup-ms', 4000);
const IDLE_MS = 2000;
// --spans N: spans per flooding request (2,000 ≈ 768 KB of OTLP/JSON).
const SPANS = arg('spans', 2000);
const argText = (name: string) => (process.argv.includes(`--${name}`) ? process.argv[process.argv.indexOf(`--${name}`) + 1] : undefined);
const OWN_ENTRY = new URL('./abuse-gateway.ts', import.meta.url).pathname;
const OTHER_ENTRY = argText('gateway-entry');

interface Variant {
  name: string;
  entry: string;
  /** Merged into `limits` (the own entry only). */
  limits: Record<string, unknown>;
}
const TARPIT_OFF = { refusalDelay: { maxMs: 0 } };
const VARIANTS: Variant[] = [
  { name: 'drain every refused body', entry: OWN_ENTRY, limits: { ingest: { closeAfterRefusals: 0 }, ...TARPIT_OFF } },
  { name: 'close after 32 refusals', entry: OWN_ENTRY, limits: { ingest: { closeAfterRefusals: 32 }, ...TARPIT_OFF } },
  { name: 'close after 32 + tarpit', entry: OWN_ENTRY, limits: { ingest: { closeAfterRefusals: 32 } } },
  ...(OTHER_ENTRY ? [{ name: 'other entry', entry: OTHER_ENTRY, limits: {} }] : []),
].filter((v) => !argText('only') || v.name.includes(argText('only')!));

interface Outcome {
  ok: number;
  refused: number;
  /** Refusals answered with `Connection: close`. */
  closed: number;
  errors: number;
  cpuMainMs: number;
  cpuAllMs: number;
  /** Wall time of the measured flood: held answers can keep the last requests past SECONDS. */
  wallMs: number;
}

let r0 = true;
async function run(v: Variant): Promise<Outcome> {
  const own = v.entry === OWN_ENTRY ? v.limits : {};
  const overrides = { processors: { batch: { timeoutMs: 1000 } }, limits: { ...own, ingest: { itemsPerSecond: 1, bytesPerSecond: 0, ...(own.ingest as object | undefined) } } };
  const child: ChildProcess = spawn('taskset', ['-c', '0', process.execPath, ...(process.argv.includes('--perf-map') ? ['--perf-basic-prof'] : []), '--import', 'tsx', v.entry, JSON.stringify(overrides)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const addresses = await new Promise<GatewayAddresses>((resolve, reject) => {
    child.once('message', (m) => resolve(m as GatewayAddresses));
    child.once('exit', (code) => reject(new Error(`gateway exited (${code})`)));
  });
  const body = Buffer.from(JSON.stringify(spansJson(Array.from({ length: SPANS }, (_, i) => ({ service: 'svc-a', name: `op-${i % 20}`, attributes: { 'http.route': `/r/${i % 50}` } })))));
  if (v === VARIANTS[0] && r0) console.log(`  body ${(body.length / 1024).toFixed(0)} KB`);
  const agent = new http.Agent({ keepAlive: true, maxSockets: FLOODERS });
  const out: Outcome = { ok: 0, refused: 0, closed: 0, errors: 0, cpuMainMs: 0, cpuAllMs: 0, wallMs: 0 };
  let measuring = false;
  const post = () =>
    new Promise<void>((resolve) => {
      const req = http.request(`${addresses.otlpHttp}/v1/traces`, { method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': String(body.length), 'x-scope-orgid': 'a' } }, (res) => {
        res.resume();
        res.once('end', () => {
          if (!measuring) return resolve();
          if (res.statusCode === 200) out.ok++;
          else out.refused++;
          if (res.statusCode !== 200 && res.headers.connection === 'close') out.closed++;
          resolve();
        });
      });
      req.once('error', () => {
        if (measuring) out.errors++;
        resolve();
      });
      req.end(body);
    });
  const pid = child.pid!;
  const flood = async (ms: number) => {
    const until = Date.now() + ms;
    await Promise.all(Array.from({ length: FLOODERS }, async () => {
      while (Date.now() < until) await post();
    }));
  };
  // Unmeasured: the gateway loads its GraphQL modules after the OTLP listeners are up, and V8 warms up.
  await flood(WARMUP_MS);
  // The gateway's own CPU while nobody sends (timers, batch flushes, the buffered first request's write), subtracted below.
  await new Promise((res) => setTimeout(res, 1000));
  const idle0 = [cpuSeconds(pid, pid), cpuSeconds(pid)];
  await new Promise((res) => setTimeout(res, IDLE_MS));
  const idleRate = [(cpuSeconds(pid, pid) - idle0[0]!) / IDLE_MS, (cpuSeconds(pid) - idle0[1]!) / IDLE_MS];
  measuring = true;
  const main0 = cpuSeconds(pid, pid);
  const all0 = cpuSeconds(pid);
  const t0 = Date.now();
  await flood(SECONDS * 1000);
  out.wallMs = Date.now() - t0;
  out.cpuMainMs = (cpuSeconds(pid, pid) - main0 - idleRate[0]! * out.wallMs) * 1000;
  out.cpuAllMs = (cpuSeconds(pid) - all0 - idleRate[1]! * out.wallMs) * 1000;
  agent.destroy();
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.send('stop');
  await exited;
  return out;
}

execFileSync('taskset', ['-a', '-cp', cpus().map((_, i) => i).filter((i) => i !== 0).join(',') || '0', String(process.pid)], { stdio: 'ignore' });
console.log(`bench:abuse-refusal on ${machine()}; gateway on CPU 0; ${FLOODERS} flooders of ${SPANS}-span OTLP/JSON bodies, ${SECONDS} s per run, ${ROUNDS} rounds`);
const totals = new Map<string, Outcome>(VARIANTS.map((v) => [v.name, { ok: 0, refused: 0, closed: 0, errors: 0, cpuMainMs: 0, cpuAllMs: 0, wallMs: 0 }]));
for (let r = 0; r < ROUNDS; r++) {
  for (const v of VARIANTS) {
    const o = await run(v);
    r0 = false;
    const t = totals.get(v.name)!;
    for (const k of Object.keys(o) as (keyof Outcome)[]) t[k] += o[k];
    console.log(
      `  round ${r + 1}, ${v.name}: ${o.refused} refused (${o.closed} with Connection: close), ${o.ok} admitted, ${o.errors} socket errors in ${fmt(o.wallMs / 1000, 1)} s: ${fmt(o.refused / (o.wallMs / 1000), 0)} refused/s; ` +
        `gateway CPU main ${fmt(o.cpuMainMs, 0)} ms (${fmt(o.cpuMainMs / o.wallMs * 100, 1)} % of a core), all threads ${fmt(o.cpuAllMs, 0)} ms; ` +
        `main-thread CPU per refused request ${fmt((o.cpuMainMs * 1000) / Math.max(1, o.refused), 0)} µs; load ${loadavg().map((l) => l.toFixed(2)).join(' ')}`,
    );
  }
}
for (const [name, t] of totals) {
  console.log(
    `${name.padEnd(26)} refused/s ${fmt(t.refused / (t.wallMs / 1000), 1)} (${fmt((100 * t.closed) / Math.max(1, t.refused), 0)} % closed), socket errors ${t.errors}, ` +
      `main thread ${fmt(t.cpuMainMs / t.wallMs * 100, 1)} % of a core, all threads ${fmt(t.cpuAllMs / t.wallMs * 100, 1)} %; µs per refused: main ${fmt((t.cpuMainMs * 1000) / Math.max(1, t.refused), 0)}, all ${fmt((t.cpuAllMs * 1000) / Math.max(1, t.refused), 0)}`,
  );
}
