// Sends metric points to a Prometheus remote-write endpoint: translate (translate.ts), split per
// tenant and into requests of at most `maxSamplesPerRequest` samples, encode (wire.ts), POST.
// Each attempt's answer is classified for the shared retry helper: 2xx success; 429 and 5xx
// retryable (Retry-After honoured); other 4xx permanent, with the server's message; network errors
// and timeouts retryable.
import http from 'node:http';
import https from 'node:https';
import type { Logger } from 'pino';
import type { MetricPoint } from '../../../src/model/telemetry.ts';
import type { MetricSample } from '../../../src/server/metrics.ts';
import type { ExportResult } from '../../component.ts';
import { translate, type ExponentialHistogramMode, type PromTimeSeries } from './translate.ts';
import { encodeWriteRequest, REMOTE_WRITE_HEADERS } from './wire.ts';
import { parseRetryAfter } from '../helpers/index.ts';
import { SettingError } from '../../../src/config/merge.ts';
import { readSettingFile, settingUrl } from '../../../src/config/setting-values.ts';

export interface RemoteWriteConfig {
  /** e.g. http://prometheus:9090/api/v1/write */
  endpoint: string;
  timeoutMs: number;
  headers: Record<string, string>;
  /** Basic auth when username is set; bearer token otherwise when bearer is set. */
  username: string;
  password: string;
  bearer: string;
  tls: { caFile: string; certFile: string; keyFile: string; insecureSkipVerify: boolean };
  /** Header carrying the tenant (Mimir/Cortex/Thanos use X-Scope-OrgID); '' = not sent. */
  tenantHeader: string;
  exponentialHistograms: ExponentialHistogramMode;
  maxSamplesPerRequest: number;
}

export function defaultRemoteWriteConfig(): RemoteWriteConfig {
  return {
    endpoint: '',
    timeoutMs: 10_000,
    headers: {},
    username: '',
    password: '',
    bearer: '',
    tls: { caFile: '', certFile: '', keyFile: '', insecureSkipVerify: false },
    tenantHeader: '',
    exponentialHistograms: 'native',
    maxSamplesPerRequest: 10_000,
  };
}

/** A `Sender<'metrics'>` for the shared queued exporter (one attempt per call). */
export interface RemoteWriteSender {
  readonly endpoint: string;
  send(points: readonly MetricPoint[], abortSignal?: AbortSignal): Promise<ExportResult>;
  metrics(labels: Record<string, string>): MetricSample[];
  close(): void;
}

/**
 * The answer Prometheus gave for one request, as the retry helper wants it. The remote-write spec
 * says every 5xx is worth retrying (not only 502/503/504 as the shared httpResult has it).
 */
export function classifyResponse(status: number, body: string, retryAfter?: string): ExportResult {
  if (status >= 200 && status < 300) return { kind: 'success' };
  const message = `remote write answered ${status}: ${body.trim().slice(0, 500) || '(no message)'}`;
  if (status === 429 || status >= 500) {
    const retryAfterMs = parseRetryAfter(retryAfter);
    return { kind: 'retryable', error: new Error(message), ...(retryAfterMs !== undefined && { retryAfterMs }) };
  }
  return { kind: 'failure', error: new Error(message) };
}

// The 400 answers that name a sample Prometheus will never take (storage.ErrOutOfOrderSample,
// ErrOutOfBounds, ErrDuplicateSampleForTimestamp).
const SAMPLE_REFUSALS = /out of order sample|out of bounds|duplicate sample for timestamp/i;

function seriesName(s: PromTimeSeries): string {
  return s.labels.map((l) => `${l.name}=${JSON.stringify(l.value)}`).join(',');
}

function chunk(series: PromTimeSeries[], maxSamples: number): PromTimeSeries[][] {
  const out: PromTimeSeries[][] = [];
  let current: PromTimeSeries[] = [];
  let n = 0;
  for (const s of series) {
    const size = s.samples.length + s.histograms.length;
    if (n > 0 && n + size > maxSamples) {
      out.push(current);
      current = [];
      n = 0;
    }
    current.push(s);
    n += size;
  }
  if (current.length > 0) out.push(current);
  return out;
}

export function createRemoteWriteSender(cfg: RemoteWriteConfig, logger: Logger): RemoteWriteSender {
  if (!cfg.endpoint) throw new SettingError('endpoint', 'not set; the prometheus exporter needs an endpoint such as http://prometheus:9090/api/v1/write');
  const url = settingUrl('endpoint', cfg.endpoint, ['http:', 'https:']);
  if (cfg.exponentialHistograms !== 'native' && cfg.exponentialHistograms !== 'buckets') {
    throw new SettingError('exponentialHistograms', `expected native or buckets (actual: ${JSON.stringify(cfg.exponentialHistograms)})`);
  }
  if (!Number.isInteger(cfg.maxSamplesPerRequest) || cfg.maxSamplesPerRequest < 1) {
    throw new SettingError('maxSamplesPerRequest', `expected an integer greater than 0 (actual: ${cfg.maxSamplesPerRequest})`);
  }
  const secure = url.protocol === 'https:';
  const agent = secure
    ? new https.Agent({
        keepAlive: true,
        ...(cfg.tls.caFile && { ca: readSettingFile('tls.caFile', cfg.tls.caFile) }),
        ...(cfg.tls.certFile && { cert: readSettingFile('tls.certFile', cfg.tls.certFile) }),
        ...(cfg.tls.keyFile && { key: readSettingFile('tls.keyFile', cfg.tls.keyFile) }),
        rejectUnauthorized: !cfg.tls.insecureSkipVerify,
      })
    : new http.Agent({ keepAlive: true });
  const baseHeaders: Record<string, string> = { ...cfg.headers, ...REMOTE_WRITE_HEADERS, 'user-agent': 'teleql' };
  if (cfg.username) baseHeaders.authorization = `Basic ${Buffer.from(`${cfg.username}:${cfg.password}`).toString('base64')}`;
  else if (cfg.bearer) baseHeaders.authorization = `Bearer ${cfg.bearer}`;

  const counts = { requests: 0, failedRequests: 0, samples: 0, refusedSeries: 0, refused: new Map<string, number>() };

  function post(body: Uint8Array, tenant: string, abortSignal?: AbortSignal): Promise<ExportResult> {
    const headers: Record<string, string> = { ...baseHeaders, 'content-length': String(body.byteLength) };
    if (cfg.tenantHeader) headers[cfg.tenantHeader] = tenant;
    return new Promise((resolve) => {
      const req = (secure ? https : http).request(url, { method: 'POST', headers, agent, timeout: cfg.timeoutMs, ...(abortSignal && { signal: abortSignal }) }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve(classifyResponse(res.statusCode ?? 0, Buffer.concat(chunks).toString('utf8'), res.headers['retry-after'])));
        res.on('error', (err) => resolve({ kind: 'retryable', error: err }));
      });
      req.on('timeout', () => req.destroy(new Error(`remote write timed out after ${cfg.timeoutMs} ms`)));
      req.on('error', (err) => resolve({ kind: 'retryable', error: new Error(`remote write to ${url.host} failed: ${err.message}`, { cause: err }) }));
      req.end(body);
    });
  }

  /**
   * Prometheus refuses a whole request for one out-of-order or duplicate sample (400). Such a
   * request is split in halves and each half sent again, so the other series still get in; the
   * series refused on their own are counted and logged.
   */
  async function sendPart(part: PromTimeSeries[], tenant: string, abortSignal?: AbortSignal): Promise<ExportResult> {
    counts.requests++;
    const result = await post(encodeWriteRequest(part), tenant, abortSignal);
    if (result.kind === 'success') {
      counts.samples += part.reduce((n, s) => n + s.samples.length + s.histograms.length, 0);
      return result;
    }
    counts.failedRequests++;
    if (result.kind !== 'failure' || !SAMPLE_REFUSALS.test(result.error.message)) return result;
    if (part.length === 1) {
      counts.refusedSeries++;
      logger.warn({ series: seriesName(part[0]!), reason: result.error.message }, 'Prometheus refused a series');
      return { kind: 'success' };
    }
    const half = Math.ceil(part.length / 2);
    const first = await sendPart(part.slice(0, half), tenant, abortSignal);
    if (first.kind !== 'success') return first;
    return sendPart(part.slice(half), tenant, abortSignal);
  }

  return {
    endpoint: `${url.origin}${url.pathname}`,
    async send(points, abortSignal) {
      const t = translate(points, { exponentialHistograms: cfg.exponentialHistograms });
      for (const [tenant, series] of t.byTenant) {
        for (const part of chunk(series, cfg.maxSamplesPerRequest)) {
          const result = await sendPart(part, tenant, abortSignal);
          if (result.kind !== 'success') return result;
        }
      }
      // Counted once the batch is through, so a retried batch is not counted again.
      for (const [reason, n] of Object.entries(t.refused)) {
        counts.refused.set(reason, (counts.refused.get(reason) ?? 0) + n);
        logger.warn({ reason, points: n }, 'metric points not sent to Prometheus');
      }
      return { kind: 'success' };
    },
    metrics(labels) {
      const out: MetricSample[] = [
        { name: 'teleql_prometheus_remote_write_requests_total', help: 'Remote-write requests sent', type: 'counter', value: counts.requests, labels },
        { name: 'teleql_prometheus_remote_write_failed_requests_total', help: 'Remote-write requests not answered with 2xx', type: 'counter', value: counts.failedRequests, labels },
        { name: 'teleql_prometheus_remote_write_samples_total', help: 'Samples (and native histograms) Prometheus accepted', type: 'counter', value: counts.samples, labels },
      ];
      out.push({ name: 'teleql_prometheus_refused_series_total', help: 'Series Prometheus refused (out of order, out of bounds, duplicate)', type: 'counter', value: counts.refusedSeries, labels });
      for (const [reason, n] of counts.refused) {
        out.push({ name: 'teleql_prometheus_refused_points_total', help: 'Metric points not translated for Prometheus, by reason', type: 'counter', value: n, labels: { ...labels, reason } });
      }
      return out;
    },
    close: () => agent.destroy(),
  };
}
