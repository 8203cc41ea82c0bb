// Starts a real redis-server (Debian's package) on a free loopback port, without persistence.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { freePort } from './free-port.ts';

export const REDIS_SERVER_BIN = process.env.REDIS_SERVER_BIN ?? '/usr/bin/redis-server';

/** The skip reason of the tests that need redis-server, when it is not installed (.ci/run installs it), else false. */
export const redisMissing: string | false = existsSync(REDIS_SERVER_BIN) ? false : `needs ${REDIS_SERVER_BIN} (apt-get install redis-server; .ci/run installs it)`;

export interface TestRedis {
  url: string;
  port: number;
  /** The server's process (to stop it with SIGSTOP: a Redis that hangs without closing anything). */
  pid: number;
  stop(): Promise<void>;
}

/** Starts redis-server on a free port, or on `port` (a restart where an earlier one ran). */
export async function startRedis(port?: number): Promise<TestRedis> {
  port ??= await freePort();
  const proc: ChildProcess = spawn(REDIS_SERVER_BIN, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  // Never outlive the test process, even when a test fails before its `after` hook.
  const killOnExit = () => proc.kill('SIGKILL');
  process.once('exit', killOnExit);
  proc.once('exit', () => process.off('exit', killOnExit));
  let out = '';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`redis-server did not start on port ${port}: ${out}`)), 10_000);
    proc.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('Ready to accept connections')) {
        clearTimeout(timer);
        resolve();
      }
    });
    proc.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`redis-server exited with ${code}: ${out}`));
    });
    proc.once('error', (err) => {
      clearTimeout(timer);
      reject(new Error(`redis-server could not be started (${REDIS_SERVER_BIN}): ${err.message}`));
    });
  });
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    pid: proc.pid!,
    stop: () =>
      new Promise<void>((resolve) => {
        if (proc.exitCode !== null) return resolve();
        proc.once('exit', () => resolve());
        proc.kill('SIGTERM');
      }),
  };
}
