// `teleql serve` as a real process for a test: spawned through bin/teleql.js, its output kept, its
// readiness awaited, on free ports in a temporary directory.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitFor } from './wait-for.ts';
import { freePort } from './free-port.ts';

const BIN = new URL('../../bin/teleql.js', import.meta.url).pathname;

export interface Served {
  child: ChildProcess;
  /** stdout and stderr so far, interleaved. */
  output: () => string;
  exited: Promise<number | null>;
}

/** `teleql serve <args>` with `env` over the test's own; `nodeArgs` go before the script (`--import`). */
export function serve(args: string[], env: Record<string, string>, nodeArgs: string[] = []): Served {
  const child = spawn(process.execPath, [...nodeArgs, BIN, 'serve', ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, output: () => out, exited };
}

/** Waits for the gateway's /readyz; on a timeout the error carries what the process printed (a port race, a crash). */
export async function untilReady(served: Served, graphqlPort: number): Promise<void> {
  try {
    await waitFor(() => fetch(`http://127.0.0.1:${graphqlPort}/readyz`).then((r) => r.status), (s) => s === 200, 'readiness', 20_000);
  } catch (err) {
    throw new Error(`${(err as Error).message}\nexit code: ${served.child.exitCode}\noutput:\n${served.output().slice(-3000)}`, { cause: err });
  }
}

/** The JSON log lines a process printed so far (its other output left out). */
export function logLines(served: Served): Record<string, unknown>[] {
  return served
    .output()
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

export interface ServeSetup {
  dir: string;
  /** Where the test writes the config file (`--config`). */
  config: string;
  grpc: number;
  http: number;
  graphql: number;
  /** The ports (free ones) and log level, as TELEQL_* variables. */
  env: Record<string, string>;
}

/** A temporary directory and free ports for one `teleql serve` test; the directory goes afterwards. */
export async function withServeSetup(run: (setup: ServeSetup) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'teleql-serve-'));
  try {
    const [grpc, http, graphql] = [await freePort(), await freePort(), await freePort()];
    const env = { TELEQL_OTLP_GRPC_PORT: String(grpc), TELEQL_OTLP_HTTP_PORT: String(http), TELEQL_GRAPHQL_PORT: String(graphql), TELEQL_LOG_LEVEL: 'info' };
    await run({ dir, config: join(dir, 'teleql.yaml'), grpc, http, graphql, env });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
