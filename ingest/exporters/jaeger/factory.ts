// Writes spans to Jaeger (v2 takes OTLP natively, on 4318 for HTTP and 4317 for gRPC) through the
// shared queued exporter: Jaeger being slow or down never holds up ingest; spans wait in the spill.
import type { CreateSettings, ExporterFactory, Signal } from '../../component.ts';
import { checkMaxRequestBytes, createQueuedExporter, defaultQueueSettings, type QueueSettings } from '../helpers/index.ts';
import { defaultConnectionSettings } from '../helpers/connection.ts';
import { createOtlpSender, type OtlpSenderSettings } from './otlp-sender.ts';
import { SettingError } from '../../../src/config/merge.ts';

export type JaegerExporterConfig = OtlpSenderSettings & QueueSettings;

export function defaultJaegerExporterConfig(): JaegerExporterConfig {
  return {
    protocol: 'http',
    endpoint: 'http://localhost:4318',
    tenantHeader: 'x-tenant',
    alwaysSendTenant: false,
    compression: 'none',
    maxRequestBytes: 4 * 1024 * 1024,
    ...defaultConnectionSettings(),
    ...defaultQueueSettings(),
  };
}

export const jaegerExporterFactory: ExporterFactory<JaegerExporterConfig> = {
  kind: 'exporter',
  type: 'jaeger',
  signals: ['traces'],
  createDefaultConfig: defaultJaegerExporterConfig,
  create<S extends Signal>(settings: CreateSettings, config: JaegerExporterConfig, signal: S) {
    if (config.protocol !== 'http' && config.protocol !== 'grpc') {
      throw new SettingError('protocol', `expected http or grpc (actual: '${String(config.protocol)}')`);
    }
    if (config.compression !== 'none' && config.compression !== 'gzip') {
      throw new SettingError('compression', `expected none or gzip (actual: '${String(config.compression)}')`);
    }
    checkMaxRequestBytes(config.maxRequestBytes);
    const sender = createOtlpSender(signal, config, 'jaeger', settings.logger);
    return createQueuedExporter({ id: settings.id, kind: 'jaeger', signal, sender, settings: config, logger: settings.logger });
  },
};
