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
    // None by default: Jaeger's usual http://localhost:4318 is the gateway's own OTLP/HTTP port on
    // one host, and a section without an endpoint sent every span back into the gateway, for ever
    // (QA round 38e).
    endpoint: '',
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
    if (!config.endpoint) {
      throw new SettingError('endpoint', "required: Jaeger's OTLP endpoint, e.g. http://jaeger:4318 (protocol http) or jaeger:4317 (grpc); the gateway itself listens on 4318 and 4317 by default");
    }
    checkMaxRequestBytes(config.maxRequestBytes);
    const sender = createOtlpSender(signal, config, 'jaeger', settings.logger);
    return createQueuedExporter({ id: settings.id, kind: 'jaeger', signal, sender, settings: config, logger: settings.logger });
  },
};
