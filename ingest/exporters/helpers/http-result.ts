// How an HTTP answer maps to a send result, the same for every HTTP exporter (OTLP/HTTP's rules:
// 429, 502, 503 and 504 are worth retrying, honouring Retry-After, and 408 as the Collector does; other 4xx/5xx are not).
import type { ExportResult } from '../../component.ts';
import { parseRetryAfter } from './settings.ts';

const RETRYABLE_STATUS = new Set([408, 429, 502, 503, 504]);

/** `what` names the backend in the error, e.g. `jaeger OTLP/HTTP`. `detail` is a short body excerpt. */
export function httpResult(what: string, status: number, retryAfter: string | null, detail = ''): ExportResult {
  if (status >= 200 && status < 300) return { kind: 'success' };
  const error = new Error(`${what} answered HTTP ${status}${detail ? `: ${detail.slice(0, 300)}` : ''}`);
  if (RETRYABLE_STATUS.has(status)) {
    const retryAfterMs = parseRetryAfter(retryAfter);
    return retryAfterMs === undefined ? { kind: 'retryable', error } : { kind: 'retryable', error, retryAfterMs };
  }
  return { kind: 'failure', error };
}
