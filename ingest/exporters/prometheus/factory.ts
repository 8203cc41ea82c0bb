// The `prometheus` exporter: metrics only. Delta points are made cumulative as they arrive (so the
// queue and its spill hold only cumulative points, and a retry never adds a delta twice), a counter
// that restarted gets a zero point at its new start time (start-resets.ts), then the shared queued
// exporter batches, retries and spills, and the remote-write sender sends.
import type { CreateSettings, Exporter, ExporterFactory, Signal } from '../../component.ts';
import { SignalNotSupportedError } from '../../component.ts';
import type { MetricPoint } from '../../../src/model/telemetry.ts';
import type { MetricSample } from '../../../src/server/metrics.ts';
import { createQueuedExporter, defaultQueueSettings, type QueueSettings, type QueuedExporter } from '../helpers/index.ts';
import { createDeltaToCumulative } from './delta-to-cumulative.ts';
import { createStartResets } from './start-resets.ts';
import { createRemoteWriteSender, defaultRemoteWriteConfig, type RemoteWriteConfig } from './sender.ts';

export type PrometheusExporterConfig = QueueSettings &
  Omit<RemoteWriteConfig, 'timeoutMs'> & {
    /**
     * Series whose delta running totals are kept in memory, and apart from them, cumulative series
     * whose start time is (least recently updated forgotten first).
     */
    maxDeltaSeries: number;
  };

export const PROMETHEUS_EXPORTER_TYPE = 'prometheus';

export function defaultPrometheusExporterConfig(): PrometheusExporterConfig {
  const { timeoutMs: _unused, ...remote } = defaultRemoteWriteConfig();
  return { ...defaultQueueSettings(), ...remote, maxDeltaSeries: 100_000 };
}

export const prometheusExporterFactory: ExporterFactory<PrometheusExporterConfig> = {
  kind: 'exporter',
  type: PROMETHEUS_EXPORTER_TYPE,
  signals: ['metrics'],
  createDefaultConfig: defaultPrometheusExporterConfig,
  create<S extends Signal>(settings: CreateSettings, config: PrometheusExporterConfig, signal: S): Exporter<S> {
    if (signal !== 'metrics') throw new SignalNotSupportedError(PROMETHEUS_EXPORTER_TYPE, signal);
    const { queue, batch, retry, spill, shutdownTimeoutMs, timeoutMs, maxDeltaSeries, ...remote } = config;
    const sender = createRemoteWriteSender({ ...remote, timeoutMs }, settings.logger);
    const queued: QueuedExporter<'metrics'> = createQueuedExporter({
      id: settings.id,
      kind: PROMETHEUS_EXPORTER_TYPE,
      signal: 'metrics',
      sender: { endpoint: sender.endpoint, send: (items, abortSignal) => sender.send(items, abortSignal), shutdown: async () => sender.close() },
      settings: { queue, batch, retry, spill, shutdownTimeoutMs, timeoutMs },
      logger: settings.logger,
    });
    const deltas = createDeltaToCumulative({ maxSeries: maxDeltaSeries });
    const starts = createStartResets({ maxSeries: maxDeltaSeries });
    let startResets = 0;
    const labels = { exporter: settings.id };
    const refusedDeltas = new Map<string, number>();
    const exporter = {
      start: queued.start,
      shutdownBegins: queued.shutdownBegins,
      shutdown: queued.shutdown,
      async consume(items: readonly MetricPoint[]) {
        const { points, refused } = deltas.convert(items);
        for (const [reason, n] of Object.entries(refused)) {
          refusedDeltas.set(reason, (refusedDeltas.get(reason) ?? 0) + n);
          settings.logger.warn({ reason, points: n }, 'delta metric points not converted for Prometheus');
        }
        const marked = starts.mark(points);
        startResets += marked.zeroPoints;
        await queued.consume(marked.points);
      },
      metrics(): MetricSample[] {
        const out = [...queued.metrics(), ...sender.metrics(labels)];
        out.push({ name: 'teleql_prometheus_delta_series', help: 'Series with a delta running total in memory', type: 'gauge', value: deltas.size(), labels });
        out.push({ name: 'teleql_prometheus_start_series', help: 'Cumulative series with a start time in memory', type: 'gauge', value: starts.size(), labels });
        out.push({ name: 'teleql_prometheus_start_resets_total', help: 'Zero samples written at a new start time (a counter restarted)', type: 'counter', value: startResets, labels });
        for (const [reason, n] of refusedDeltas) {
          out.push({ name: 'teleql_prometheus_refused_points_total', help: 'Metric points not translated for Prometheus, by reason', type: 'counter', value: n, labels: { ...labels, reason } });
        }
        return out;
      },
      backendStatus: queued.backendStatus,
      stats: queued.stats,
      drained: queued.drained,
    };
    return exporter as unknown as Exporter<S>;
  },
};
