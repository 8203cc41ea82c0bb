// The Jaeger exporter's config for tests: small batches and short waits, no spill unless asked.
import { defaultJaegerExporterConfig, type JaegerExporterConfig } from '../../ingest/exporters/jaeger/factory.ts';

export function fastJaegerConfig(over: Partial<JaegerExporterConfig>): JaegerExporterConfig {
  const d = defaultJaegerExporterConfig();
  return {
    ...d,
    batch: { maxItems: 10, flushIntervalMs: 5 },
    retry: { ...d.retry, initialIntervalMs: 20, maxIntervalMs: 50 },
    spill: { ...d.spill, enabled: false },
    shutdownTimeoutMs: 50,
    ...over,
  };
}
