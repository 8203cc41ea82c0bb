// Starts the real Alertmanager binary (Debian's prometheus-alertmanager) on a free loopback port
// with a temp config and storage dir, clustering off; waits until it is ready.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitFor } from './wait-for.ts';
import { freePort } from './free-port.ts';

export const ALERTMANAGER_BIN = '/usr/bin/prometheus-alertmanager';

export interface Alertmanager {
  url: string;
  stop(): Promise<void>;
}

export async function startAlertmanager(): Promise<Alertmanager> {
  const dir = await mkdtemp(join(tmpdir(), 'teleql-am-'));
  const config = join(dir, 'alertmanager.yml');
  // A route to a receiver without integrations: alerts are kept and listed, nothing is sent on.
  await writeFile(config, 'route:\n  receiver: keep\nreceivers:\n  - name: keep\n');
  const port = await freePort();
  const proc: ChildProcess = spawn(
    ALERTMANAGER_BIN,
    [`--config.file=${config}`, `--storage.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`, '--cluster.listen-address='],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  proc.stderr!.on('data', (c: Buffer) => (stderr = (stderr + c.toString()).slice(-4000)));
  const url = `http://127.0.0.1:${port}`;
  try {
    await waitFor(
      async () => {
        if (proc.exitCode !== null) throw new Error(`alertmanager exited with ${proc.exitCode}: ${stderr}`);
        return (await fetch(`${url}/-/ready`)).status;
      },
      (s) => s === 200,
      'alertmanager ready',
      20_000,
    );
  } catch (err) {
    proc.kill('SIGKILL');
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
  return {
    url,
    async stop() {
      if (proc.exitCode === null) {
        const exited = new Promise((resolve) => proc.once('exit', resolve));
        proc.kill('SIGTERM');
        await exited;
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}
