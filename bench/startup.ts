// npm run bench:startup — how long `teleql serve` takes from process start until OTLP/gRPC accepts a
// connection, until an OTLP/HTTP export is acknowledged, and until /readyz says ready (GraphQL up).
// Fresh data directory each run. Options: --runs N (default 5).
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { arg, fmt, machine, summarize } from './lib.ts';
import { freePort } from '../test/helpers/free-port.ts';

const runs = arg('runs', 5);
const BIN = new URL('../bin/teleql.js', import.meta.url).pathname;

const accepts = (port: number) =>
  new Promise<boolean>((resolve) => {
    const c = connect(port, '127.0.0.1', () => {
      c.destroy();
      resolve(true);
    }).once('error', () => resolve(false));
  });

async function until(check: () => Promise<boolean>, t0: number): Promise<number> {
  for (;;) {
    if (await check().catch(() => false)) return performance.now() - t0;
    await new Promise((r) => setTimeout(r, 5));
  }
}

const grpc: number[] = [];
const http: number[] = [];
const ready: number[] = [];
for (let i = 0; i < runs; i++) {
  const dir = mkdtempSync(join(tmpdir(), 'teleql-bench-startup-'));
  const [g, h, q] = [await freePort(), await freePort(), await freePort()];
  const t0 = performance.now();
  const child = spawn(process.execPath, [BIN, 'serve'], {
    env: { ...process.env, TELEQL_OTLP_GRPC_PORT: String(g), TELEQL_OTLP_HTTP_PORT: String(h), TELEQL_GRAPHQL_PORT: String(q), TELEQL_DATA_PATH: join(dir, 't.duckdb'), TELEQL_LOG_LEVEL: 'warn' },
    stdio: 'ignore',
  });
  const [a, b, c] = await Promise.all([
    until(() => accepts(g), t0),
    until(async () => (await fetch(`http://127.0.0.1:${h}/v1/traces`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' })).ok, t0),
    until(async () => (await fetch(`http://127.0.0.1:${q}/readyz`)).ok, t0),
  ]);
  grpc.push(a);
  http.push(b);
  ready.push(c);
  child.kill('SIGTERM');
  await new Promise((r) => child.once('exit', r));
  rmSync(dir, { recursive: true, force: true });
}
console.log(`machine: ${machine()}`);
console.log(`${runs} cold starts of \`teleql serve\` (fresh DuckDB file each), ms from spawn:`);
for (const [name, xs] of [['OTLP/gRPC accepts connections', grpc], ['OTLP/HTTP acknowledges an export', http], ['/readyz ready (GraphQL up)', ready]] as const) {
  const s = summarize(xs);
  console.log(`  ${name.padEnd(36)} median ${fmt(s.p50, 0).padStart(5)}  max ${fmt(Math.max(...xs), 0).padStart(5)}`);
}
console.log('target: ready to accept data in under 1,000 ms');
