// The fuzzed gateway as its own process (`teleql serve`), so a blocked gateway event loop cannot
// also block the fuzzer's clocks: deadlines and the /healthz probe keep running and see the hang.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../../test/helpers/free-port.ts';

const BIN = new URL('../../bin/teleql.js', import.meta.url).pathname;

export interface GatewayProcess {
  pid: number;
  graphqlUrl: string;
  wsUrl: string;
  healthzUrl: string;
  otlpGrpc: string; // host:port
  otlpHttp: string; // http://host:port
  /** Resident set size of the gateway process in MB (from /proc), or undefined where there is none. */
  rssMb(): number | undefined;
  alive(): boolean;
  /** The last lines the process printed (its log, a crash). */
  output(): string;
  /** SIGTERM, then SIGKILL after `graceMs` (a blocked loop ignores SIGTERM). */
  stop(graceMs?: number): Promise<void>;
}

/**
 * Starts `teleql serve` with `config` (written as JSON, which YAML reads) on the given ports (three
 * consecutive from `portBase`) or free ones, an in-memory store, and waits for /readyz.
 */
export async function spawnGateway(config: Record<string, unknown>, portBase?: number): Promise<GatewayProcess> {
  const [graphql, grpc, http] = portBase ? [portBase, portBase + 1, portBase + 2] : [await freePort(), await freePort(), await freePort()];
  const dir = mkdtempSync(join(tmpdir(), 'teleql-fuzz-gw-'));
  const file = join(dir, 'teleql.yaml');
  writeFileSync(file, JSON.stringify(config));
  const env = { ...process.env, TELEQL_GRAPHQL_PORT: String(graphql), TELEQL_OTLP_GRPC_PORT: String(grpc), TELEQL_OTLP_HTTP_PORT: String(http), TELEQL_LOG_LEVEL: 'warn' };
  const child = spawn(process.execPath, [BIN, 'serve', '--config', file], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const keep = (d: Buffer) => {
    out = (out + d.toString()).slice(-20_000);
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const base = `http://127.0.0.1:${graphql}`;
  const gw: GatewayProcess = {
    pid: child.pid!,
    graphqlUrl: `${base}/graphql`,
    wsUrl: `ws://127.0.0.1:${graphql}/graphql`,
    healthzUrl: `${base}/healthz`,
    otlpGrpc: `127.0.0.1:${grpc}`,
    otlpHttp: `http://127.0.0.1:${http}`,
    rssMb() {
      try {
        const kb = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'))?.[1];
        return kb ? Math.round(Number(kb) / 102.4) / 10 : undefined;
      } catch {
        return undefined;
      }
    },
    alive: () => child.exitCode === null && child.signalCode === null,
    output: () => out,
    async stop(graceMs = 10_000) {
      if (gw.alive()) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
        await exited;
        clearTimeout(timer);
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (!gw.alive()) throw new Error(`the gateway exited while starting:\n${out.slice(-3000)}`);
    const ready = await fetch(`${base}/readyz`, { signal: AbortSignal.timeout(2000) }).then((r) => r.status === 200, () => false);
    if (ready) return gw;
    if (Date.now() > deadline) {
      await gw.stop(0);
      throw new Error(`the gateway was not ready within 60 s:\n${out.slice(-3000)}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}
