// The shared exporter helper: import from here.
export {
  createQueuedExporter,
  type PartialResult,
  type QueuedExporter,
  type QueuedExporterOptions,
  type QueuedExporterStats,
  type SendResult,
  type Sender,
  type SenderReport,
} from './queued-exporter.ts';
export { backoffMs, checkMaxRequestBytes, defaultQueueSettings, parseRetryAfter, type QueueSettings } from './settings.ts';
export { httpResult } from './http-result.ts';
