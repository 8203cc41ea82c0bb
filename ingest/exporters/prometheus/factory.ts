// The `prometheus` exporter: metrics only. Delta points are made cumulative as they arrive (so the
// queue and its spill hold only cumulative points, and a retry never adds a delta twice), then the
// shared queued exporter batches, retries and spills, and the remote-write sender sends.
import type { CreateSettings, Exporter, ExporterFactory, Signal } from '../../component.ts';
import { SignalNotSupportedError } from '../../component.ts';
import type { MetricPoint } from '../../../src/model/telemetry.ts';
import type { MetricSample } from '../../../src/server/metrics.ts';
import { createQueuedExporter, defaultQueueSettings, type QueueSettings, type QueuedExporter } from '../helpers/index.ts';
import { createDeltaToCumulative } from './delta-to-cumulative.ts';
import { createRemoteWriteSender, defaultRemoteWriteConfig, type RemoteWriteConfig } from './sender.ts';

export type PrometheusExporterConfig = QueueSettings &
  Omit<RemoteWriteConfig, 'timeoutMs'> & {
    /** Series whose delta running totals are kept in memory (least recently updated forgotten first). */
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
    const labels = { exporter: settings.id };
    const refusedDeltas = new Map<string, number>();
    const exporter = {
      start: queued.start,
      shutdown: queued.shutdown,
      async consume(items: readonly MetricPoint[]) {
        const { points, refused } = deltas.convert(items);
        for (const [reason, n] of Object.entries(refused)) {
          refusedDeltas.set(reason, (refusedDeltas.get(reason) ?? 0) + n);
          settings.logger.warn({ reason, points: n }, 'delta metric points not converted for Prometheus');
        }
        await queued.consume(points);
      },
      metrics(): MetricSample[] {
        const out = [...queued.metrics(), ...sender.metrics(labels)];
        out.push({ name: 'teleql_prometheus_delta_series', help: 'Series with a delta running total in memory', type: 'gauge', value: deltas.size(), labels });
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
