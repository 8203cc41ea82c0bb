// Starts the real Prometheus binary (Debian package `prometheus`, /usr/bin/prometheus) on a free
// loopback port with a temp data dir, the remote-write receiver, exemplar storage and native
// histograms, and waits for /-/ready. `stop()` and `start()` again keep the same port and data dir,
// so a test can take Prometheus away mid-ingest and bring it back with what it had stored.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import protobuf from 'protobufjs';
import snappy from 'snappyjs';
import { freePort } from './free-port.ts';

export const PROMETHEUS_BIN = process.env.PROMETHEUS_BIN ?? '/usr/bin/prometheus';

export interface PrometheusServer {
  /** http://127.0.0.1:port */
  url: string;
  /** The remote-write endpoint. */
  writeUrl: string;
  start(): Promise<void>;
  /** SIGTERM, waits for exit. Safe when not running. */
  stop(): Promise<void>;
  /** Stops and removes the data dir. */
  destroy(): Promise<void>;
  log(): string;
}

/** Gateway config overrides: metrics written to DuckDB and remote-written to `prom` at once, and read from `prom`. */
export function writingAndReadingPrometheus(prom: PrometheusServer) {
  return {
    exporters: { duckdb: {}, prometheus: { endpoint: prom.writeUrl, spill: { enabled: false }, batch: { flushIntervalMs: 20 } } },
    pipelines: { metrics: { receivers: ['otlp'], processors: ['batch'], exporters: ['duckdb', 'prometheus'] } },
    storage: { read: { metrics: 'prometheus' as const }, prometheus: { url: prom.url } },
  };
}

export function prometheusAvailable(): boolean {
  return existsSync(PROMETHEUS_BIN);
}

/** `features`: the --enable-feature list (default exemplar storage and native histograms; [] for a Prometheus without either). */
export async function startPrometheus(opts: { features?: string[] } = {}): Promise<PrometheusServer> {
  const features = opts.features ?? ['exemplar-storage', 'native-histograms'];
  const dir = mkdtempSync(join(tmpdir(), 'teleql-prom-'));
  const config = join(dir, 'prometheus.yml');
  // No scrape jobs: everything in the TSDB came through remote write.
  writeFileSync(config, 'global:\n  scrape_interval: 1m\n');
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  let child: ChildProcess | undefined;
  let output = '';

  async function start(): Promise<void> {
    if (child) return;
    const proc = spawn(
      PROMETHEUS_BIN,
      [
        `--config.file=${config}`,
        `--storage.tsdb.path=${join(dir, 'data')}`,
        `--web.listen-address=127.0.0.1:${port}`,
        '--web.enable-remote-write-receiver',
        ...(features.length > 0 ? [`--enable-feature=${features.join(',')}`] : []),
        '--log.level=warn',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    child = proc;
    const keep = (b: Buffer): void => void (output = (output + b.toString()).slice(-20_000));
    proc.stdout!.on('data', keep);
    proc.stderr!.on('data', keep);
    const exited = new Promise<never>((_, reject) => proc.once('exit', (code) => reject(new Error(`prometheus exited (${code}): ${output}`))));
    exited.catch(() => {});
    const deadline = Date.now() + 30_000;
    for (;;) {
      if (proc.exitCode !== null) await exited;
      try {
        const res = await fetch(`${url}/-/ready`);
        if (res.ok) return;
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) throw new Error(`prometheus not ready after 30 s: ${output}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  async function stop(): Promise<void> {
    const proc = child;
    child = undefined;
    if (!proc || proc.exitCode !== null) return;
    await new Promise<void>((resolve) => {
      proc.once('exit', () => resolve());
      proc.kill('SIGTERM');
    });
  }

  await start();
  return {
    url,
    writeUrl: `${url}/api/v1/write`,
    start,
    stop,
    async destroy() {
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
    log: () => output,
  };
}

/** A remote-write series, as the tests write them: labels (with `__name__`) and samples at chosen times. */
export interface RemoteWriteSeries {
  labels: { name: string; value: string }[];
  samples: { value: number; timestamp: number }[];
}

const writeRequest = protobuf.Root.fromJSON({
  nested: {
    WriteRequest: { fields: { timeseries: { rule: 'repeated', type: 'TimeSeries', id: 1 } } },
    TimeSeries: { fields: { labels: { rule: 'repeated', type: 'Label', id: 1 }, samples: { rule: 'repeated', type: 'Sample', id: 2 } } },
    Label: { fields: { name: { type: 'string', id: 1 }, value: { type: 'string', id: 2 } } },
    Sample: { fields: { value: { type: 'double', id: 1 }, timestamp: { type: 'int64', id: 2 } } },
  },
}).lookupType('WriteRequest');

/** Writes `timeseries` to a Prometheus remote-write endpoint (protobuf + snappy, remote write 1.0); fails unless it answers 204. */
export async function remoteWrite(writeUrl: string, timeseries: RemoteWriteSeries[]): Promise<void> {
  const body = snappy.compress(writeRequest.encode(writeRequest.fromObject({ timeseries })).finish());
  const res = await fetch(writeUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/x-protobuf', 'content-encoding': 'snappy', 'x-prometheus-remote-write-version': '0.1.0' },
    body: Buffer.from(body),
  });
  const text = await res.text();
  if (res.status !== 204) throw new Error(`remote write answered ${res.status}: ${text}`);
}
