// Sends metric points to a Prometheus remote-write endpoint: translate (translate.ts), split per
// tenant and into requests of at most `maxSamplesPerRequest` samples, encode (wire.ts), POST.
// Each attempt's answer is classified for the shared retry helper: 2xx success; 429 and 5xx
// retryable (Retry-After honoured); other 4xx permanent, with the server's message; network errors
// and timeouts retryable. A batch goes in several requests (per tenant, maxSamplesPerRequest): one
// refused for good fails its own points and the next is still sent; at one worth retrying, it and the
// later ones are the retry (the whole batch when it is the first). Each point counts once: sent, or
// failed when Prometheus refused any of its samples for good (as remote write 1.0 says, a 4xx other
// than 429 is never resent). Two answers that no retry can change are handled here instead:
// - a sample Prometheus will never take (out of order, out of bounds, duplicate): the request is
//   split down to the refused samples, which are left out, counted, and their points failed;
// - "native histograms are disabled" (Prometheus without --enable-feature=native-histograms answers
//   500): exponential histograms are sent as classic `_bucket` series from then on (as with
//   `exponentialHistograms: buckets`), logged once, and the batch is sent again that way. Retrying
//   would block every later batch behind it for ever.
import http from 'node:http';
import https from 'node:https';
import type { Logger } from 'pino';
import type { MetricPoint } from '../../../src/model/telemetry.ts';
import type { MetricSample } from '../../../src/server/metrics.ts';
import type { ExportResult } from '../../component.ts';
import { translate, type ExponentialHistogramMode, type PromMetricMetadata, type PromTimeSeries, type Translation } from './translate.ts';
import { encodeWriteRequest, REMOTE_WRITE_HEADERS } from './wire.ts';
import { parseRetryAfter, type SendResult } from '../helpers/index.ts';
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
  send(points: readonly MetricPoint[], abortSignal?: AbortSignal): Promise<SendResult<'metrics'>>;
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
// Prometheus' answer (storage.ErrNativeHistogramsDisabled, HTTP 500) to a native histogram it was
// not started to take.
const NATIVE_HISTOGRAMS_DISABLED = /native histograms are disabled/i;

/** The two halves of a series' samples (and native histograms), in time order, each with the exemplars of its time range. */
function halveSamples(s: PromTimeSeries): [PromTimeSeries, PromTimeSeries] {
  const entries = [
    ...s.samples.map((sample) => ({ timestamp: sample.timestamp, sample })),
    ...s.histograms.map((histogram) => ({ timestamp: histogram.timestamp, histogram })),
  ].sort((a, b) => a.timestamp - b.timestamp);
  const half = Math.ceil(entries.length / 2);
  const lastOfFirst = entries[half - 1]!.timestamp;
  const build = (list: typeof entries, exemplars: PromTimeSeries['exemplars']): PromTimeSeries => ({
    labels: s.labels,
    samples: list.flatMap((e) => ('sample' in e ? [e.sample] : [])),
    histograms: list.flatMap((e) => ('histogram' in e ? [e.histogram] : [])),
    exemplars,
  });
  return [
    build(entries.slice(0, half), s.exemplars.filter((e) => e.timestamp <= lastOfFirst)),
    build(entries.slice(half), s.exemplars.filter((e) => e.timestamp > lastOfFirst)),
  ];
}

const sampleCount = (s: PromTimeSeries): number => s.samples.length + s.histograms.length;

function seriesName(s: PromTimeSeries): string {
  return s.labels.map((l) => `${l.name}=${JSON.stringify(l.value)}`).join(',');
}

type Retryable = Extract<ExportResult, { kind: 'retryable' }>;

/** What one attempt settled besides what Prometheus took: the points refused for good, and why. */
interface Settled {
  failedPoints: Set<number>;
  refusedSeries: number;
  refusedSamples: number;
  /** The first request refused for good other than for its samples (a 4xx). */
  refusal?: Error;
}

/** The points the series' samples came from. */
function pointsOf(series: readonly PromTimeSeries[], pointOf: Translation['pointOf']): Set<number> {
  const out = new Set<number>();
  for (const s of series) {
    for (const x of [...s.samples, ...s.histograms]) {
      const p = pointOf.get(x);
      if (p !== undefined) out.add(p);
    }
  }
  return out;
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

  const counts = { requests: 0, failedRequests: 0, samples: 0, refusedSeries: 0, refusedSamples: 0, refused: new Map<string, number>() };
  // Lowered to 'buckets' for good when the endpoint says it takes no native histograms.
  let exponentialHistograms = cfg.exponentialHistograms;

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

  /** One request; `refusal` is set when Prometheus refused a sample it will never take. */
  async function postPart(part: PromTimeSeries[], metadata: ReadonlyMap<string, PromMetricMetadata>, tenant: string, abortSignal?: AbortSignal): Promise<{ result: ExportResult; refusal?: string }> {
    counts.requests++;
    const families = new Map<string, PromMetricMetadata>();
    for (const s of part) {
      const m = metadata.get(s.labels.find((l) => l.name === '__name__')?.value ?? '');
      if (m) families.set(m.metricFamilyName, m);
    }
    const result = await post(encodeWriteRequest(part, [...families.values()]), tenant, abortSignal);
    if (result.kind === 'success') {
      counts.samples += part.reduce((n, s) => n + sampleCount(s), 0);
      return { result };
    }
    counts.failedRequests++;
    if (result.kind === 'failure' && SAMPLE_REFUSALS.test(result.error.message)) return { result, refusal: result.error.message };
    return { result };
  }

  /** A request refused for good, not for its samples: its points fail. */
  function refuseRequest(part: readonly PromTimeSeries[], error: Error, t: Translation, settled: Settled): void {
    const points = pointsOf(part, t.pointOf);
    for (const p of points) settled.failedPoints.add(p);
    settled.refusal ??= error;
    logger.warn({ series: part.length, points: points.size, answer: error.message }, 'Prometheus refused a request; its points are dropped');
  }

  /**
   * Sends one request; undefined once it is settled (taken, or refused for good and noted in
   * `settled`), else the answer worth retrying. Prometheus refuses a whole request for one
   * out-of-order or duplicate sample (400). Such a request is split in halves and each half sent
   * again, so the other series still get in; a series refused on its own is split into its samples
   * the same way, so its newer samples still get in. The refused series and samples are noted.
   */
  async function sendPart(part: PromTimeSeries[], t: Translation, tenant: string, settled: Settled, abortSignal?: AbortSignal): Promise<Retryable | undefined> {
    const { result, refusal } = await postPart(part, t.metadata, tenant, abortSignal);
    if (result.kind === 'success') return undefined;
    if (result.kind === 'retryable') return result;
    if (refusal === undefined) {
      refuseRequest(part, result.error, t, settled);
      return undefined;
    }
    if (part.length > 1) {
      const half = Math.ceil(part.length / 2);
      return (await sendPart(part.slice(0, half), t, tenant, settled, abortSignal)) ?? sendPart(part.slice(half), t, tenant, settled, abortSignal);
    }
    const series = part[0]!;
    const refused = await refusedSamples(series, t, tenant, settled, abortSignal);
    if (typeof refused !== 'number') return refused;
    settled.refusedSeries++;
    settled.refusedSamples += refused;
    logger.warn({ series: seriesName(series), samples: sampleCount(series), refusedSamples: refused, reason: refusal }, 'Prometheus refused samples of a series');
    return undefined;
  }

  /** Sends a refused series' samples again in halves; the number left out, their points failed (or the answer to retry). */
  async function refusedSamples(series: PromTimeSeries, t: Translation, tenant: string, settled: Settled, abortSignal?: AbortSignal): Promise<number | Retryable> {
    if (sampleCount(series) <= 1) {
      for (const p of pointsOf([series], t.pointOf)) settled.failedPoints.add(p);
      return sampleCount(series);
    }
    let refused = 0;
    for (const half of halveSamples(series)) {
      const { result, refusal } = await postPart([half], t.metadata, tenant, abortSignal);
      if (refusal !== undefined) {
        const n = await refusedSamples(half, t, tenant, settled, abortSignal);
        if (typeof n !== 'number') return n;
        refused += n;
      } else if (result.kind === 'retryable') return result;
      else if (result.kind === 'failure') refuseRequest([half], result.error, t, settled);
    }
    return refused;
  }

  async function sendTranslated(points: readonly MetricPoint[], abortSignal?: AbortSignal): Promise<SendResult<'metrics'>> {
    const t = translate(points, { exponentialHistograms });
    const requests = [...t.byTenant].flatMap(([tenant, series]) => chunk(series, cfg.maxSamplesPerRequest).map((part) => ({ tenant, part })));
    // Points the translation left out whole were never written: failed from the start.
    const settled: Settled = { failedPoints: new Set(t.refusedPoints), refusedSeries: 0, refusedSamples: 0 };
    for (const [i, { tenant, part }] of requests.entries()) {
      const retryable = await sendPart(part, t, tenant, settled, abortSignal);
      if (!retryable) continue;
      // The whole batch goes again (nothing settled yet, or to be sent another way): nothing is counted now.
      if (i === 0 || NATIVE_HISTOGRAMS_DISABLED.test(retryable.error.message)) return retryable;
      const again = pointsOf(requests.slice(i).map((r) => r.part).flat(), t.pointOf);
      for (const p of settled.failedPoints) again.delete(p);
      count(t, settled);
      const after = retryable.retryAfterMs !== undefined ? { retryAfterMs: retryable.retryAfterMs } : {};
      return { kind: 'partial', retry: [...again].map((p) => points[p]!), failed: settled.failedPoints.size, error: retryable.error, ...after };
    }
    count(t, settled);
    const failed = settled.failedPoints.size;
    if (failed === 0) return { kind: 'success' };
    const samples = settled.refusedSamples;
    const error =
      settled.refusal ??
      (samples > 0
        ? new Error(`Prometheus refused ${samples} sample${samples === 1 ? '' : 's'} for good (out of order, out of bounds or duplicate): ${failed} of ${points.length} points not written`)
        : new Error(`${failed} of ${points.length} points cannot be written to Prometheus (${Object.keys(t.refused).join(', ')}; teleql_prometheus_refused_points_total)`));
    return failed === points.length ? { kind: 'failure', error } : { kind: 'partial', retry: [], failed, error };
  }

  /** Adds what an attempt settled to the counters; once per batch, so a batch sent again is not counted again. */
  function count(t: Translation, settled: Settled): void {
    counts.refusedSeries += settled.refusedSeries;
    counts.refusedSamples += settled.refusedSamples;
    for (const [reason, n] of Object.entries(t.refused)) {
      counts.refused.set(reason, (counts.refused.get(reason) ?? 0) + n);
      logger.warn({ reason, points: n }, 'metric points not sent to Prometheus');
    }
  }

  return {
    endpoint: `${url.origin}${url.pathname}`,
    async send(points, abortSignal) {
      const result = await sendTranslated(points, abortSignal);
      if (result.kind !== 'retryable' || exponentialHistograms !== 'native' || !NATIVE_HISTOGRAMS_DISABLED.test(result.error.message)) return result;
      exponentialHistograms = 'buckets';
      logger.warn(
        { endpoint: `${url.origin}${url.pathname}`, answer: result.error.message },
        'the remote-write endpoint takes no native histograms: exponential histograms are sent as classic _bucket series from now on ' +
          '(start Prometheus with --enable-feature=native-histograms and restart teleql for native ones, or set exponentialHistograms: buckets)',
      );
      // The parts already accepted are sent again: Prometheus takes a sample it already has with the same value.
      return sendTranslated(points, abortSignal);
    },
    metrics(labels) {
      const out: MetricSample[] = [
        { name: 'teleql_prometheus_remote_write_requests_total', help: 'Remote-write requests sent', type: 'counter', value: counts.requests, labels },
        { name: 'teleql_prometheus_remote_write_failed_requests_total', help: 'Remote-write requests not answered with 2xx', type: 'counter', value: counts.failedRequests, labels },
        { name: 'teleql_prometheus_remote_write_samples_total', help: 'Samples (and native histograms) Prometheus accepted', type: 'counter', value: counts.samples, labels },
      ];
      out.push({ name: 'teleql_prometheus_refused_series_total', help: 'Series Prometheus refused samples of (out of order, out of bounds, duplicate)', type: 'counter', value: counts.refusedSeries, labels });
      out.push({ name: 'teleql_prometheus_refused_samples_total', help: 'Samples Prometheus refused (out of order, out of bounds, duplicate); the series\' other samples were sent', type: 'counter', value: counts.refusedSamples, labels });
      out.push({ name: 'teleql_prometheus_exponential_histograms_as_buckets', help: '1 when exponential histograms are sent as classic _bucket series (configured, or the endpoint takes no native histograms)', type: 'gauge', value: exponentialHistograms === 'buckets' ? 1 : 0, labels });
      for (const [reason, n] of counts.refused) {
        out.push({ name: 'teleql_prometheus_refused_points_total', help: 'Metric points not translated for Prometheus, by reason', type: 'counter', value: n, labels: { ...labels, reason } });
      }
      return out;
    },
    close: () => agent.destroy(),
  };
}
