// npm run bench:correlation — loads synthetic traces (default 200,000 spans over the last 2 hours)
// into a file-backed DuckDB store and times the correlation store calls: RED for 50 traces'
// services answered by one batched call versus one call per trace (the baseline, same run), the
// service graph over the last hour, and exception occurrences over the last hour.
// Options: --spans N (default 200000), --runs N (default 20).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger } from '../src/logger.ts';
import { openDuckDbStore } from '../src/stores/duckdb/index.ts';
import type { RedKey } from '../src/stores/correlation-types.ts';
import { syntheticTraces } from './synthetic.ts';
import { arg, fmt, machine, summarize } from './lib.ts';

const spanCount = arg('spans', 200_000);
const runs = arg('runs', 20);
const dir = mkdtempSync(join(tmpdir(), 'teleql-bench-corr-'));
const store = await openDuckDbStore({ path: join(dir, 'bench.duckdb'), logger: silentLogger() });
try {
  const now = Date.now();
  const starts: { service: string; start: bigint }[] = [];
  let batch: Parameters<typeof store.writer.writeSpans>[0][number][] = [];
  for (const trace of syntheticTraces(spanCount / 10, now - 2 * 3600_000, now)) {
    const root = trace[0]!;
    const service = root.resource.attributes.find((a) => a.key === 'service.name')!.value as { stringValue: string };
    if (starts.length < 50 && root.startTimeUnixNano > BigInt(now - 3600_000) * 1_000_000n) starts.push({ service: service.stringValue, start: root.startTimeUnixNano });
    batch.push(...trace);
    if (batch.length >= 20_000) {
      await store.writer.writeSpans(batch);
      batch = [];
    }
  }
  if (batch.length) await store.writer.writeSpans(batch);
  console.log(`machine: ${machine()}`);
  console.log(`${fmt(spanCount, 0)} spans loaded; ${starts.length} traces' services asked for RED (±15 min, 30 steps)`);

  const MIN = 60_000_000_000n;
  const keys: RedKey[] = starts.map(({ service, start }) => ({ service, range: { from: start - 15n * MIN, to: start + 15n * MIN }, stepNano: MIN }));
  const time = async (fn: () => Promise<unknown>) => {
    const samples: number[] = [];
    for (let i = 0; i < runs; i++) {
      const t0 = performance.now();
      await fn();
      samples.push(performance.now() - t0);
    }
    return summarize(samples);
  };
  const batched = await time(() => store.correlation.red.redSeries('default', keys));
  const perKey = await time(() => Promise.all(keys.map((k) => store.correlation.red.redSeries('default', [k]))));
  const hour = { from: BigInt(now - 3600_000) * 1_000_000n, to: BigInt(now) * 1_000_000n };
  const graph = await time(() => store.correlation.serviceGraph.serviceGraph('default', { range: hour }));
  const exceptions = await time(() => store.correlation.exceptions.exceptionOccurrences('default', { range: hour, stepNano: MIN, examples: 5 }));
  console.log(`RED, ${keys.length} keys in one call:   p50 ${fmt(batched.p50)} ms  p99 ${fmt(batched.p99)} ms`);
  console.log(`RED, one call per key (baseline): p50 ${fmt(perKey.p50)} ms  p99 ${fmt(perKey.p99)} ms  → batched is ${fmt(perKey.p50 / batched.p50)}× faster`);
  console.log(`service graph, last hour:         p50 ${fmt(graph.p50)} ms  p99 ${fmt(graph.p99)} ms`);
  console.log(`exception occurrences, last hour: p50 ${fmt(exceptions.p50)} ms  p99 ${fmt(exceptions.p99)} ms`);
} finally {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
}
