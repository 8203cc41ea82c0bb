// Sends spans to an OTLP receiver — Jaeger v2's (HTTP :4318 or gRPC :4317), or any other — as
// protobuf Export requests, one per tenant with the tenant in a header (Jaeger's multi-tenancy reads
// `x-tenant`). The answer maps to a send result by OTLP's own rules: HTTP 408/429/502/503/504 and the
// retryable gRPC codes are retried, no sooner than the server's Retry-After (HTTP) or the
// google.rpc.RetryInfo in the status (gRPC); a partial_success counts its rejected spans as failed,
// and one that only warns is logged. A batch split into several requests is several units: one
// refused for good fails its own items only, the others are still sent; one to retry is resent with
// those after it, not with the ones already accepted.
//
// Errors (what `backends.lastError` shows admins) name the backend, the call and the status only,
// as the read stores' do: what the receiver wrote (an HTTP body, gRPC details, a partial-success
// message) can echo the data or its own upstream addresses, and a network error names the address.
// That detail goes to the component log, once per failed attempt.
import * as grpc from '@grpc/grpc-js';
import type { Logger } from 'pino';
import type { ExportResult, Signal, SignalItems } from '../../component.ts';
import { DEFAULT_TENANT } from '../../../src/model/telemetry.ts';
import { encodeByTenantWithin } from '../../../src/otlp/encode.ts';
import { decodeRetryInfo, decodeStatus } from '../../../src/otlp/codec.ts';
import { otlpProto } from '../../../src/otlp/proto.ts';
import { LRUCache } from 'lru-cache';
import type { SendResult, Sender } from '../helpers/queued-exporter.ts';
import type { QueueSettings } from '../helpers/settings.ts';
import { httpResult } from '../helpers/http-result.ts';
import { authHeaders, createHttpPoster, tlsMaterial, type ConnectionSettings } from '../helpers/connection.ts';
import { SettingError } from '../../../src/config/merge.ts';
import { settingUrl } from '../../../src/config/setting-values.ts';
import { networkCode } from '../../../src/stores/network-code.ts';

export interface OtlpSenderSettings extends ConnectionSettings, Pick<QueueSettings, 'timeoutMs'> {
  protocol: 'http' | 'grpc';
  /** http: base URL (`http://jaeger:4318`, `/v1/traces` is appended); grpc: `host:port`, or an http(s) URL to pick TLS. */
  endpoint: string;
  /** Header that carries each batch's tenant; '' sends none. */
  tenantHeader: string;
  /** Send the tenant header for the `default` tenant too (as the Jaeger read store: off, so a Jaeger without tenancy sees none). */
  alwaysSendTenant: boolean;
  compression: 'none' | 'gzip';
  /**
   * The largest Export request body (before compression): a batch is sent in as many requests as
   * keep under it. Jaeger's OTLP/gRPC receiver (the Collector's) refuses messages over 4 MiB by
   * default, as RESOURCE_EXHAUSTED without a RetryInfo (permanent): a batch of long spans would
   * never arrive.
   */
  maxRequestBytes: number;
}

const PATH: Record<Signal, string> = { traces: '/v1/traces', logs: '/v1/logs', metrics: '/v1/metrics' };
const GRPC_METHOD: Record<Signal, string> = {
  traces: '/opentelemetry.proto.collector.trace.v1.TraceService/Export',
  logs: '/opentelemetry.proto.collector.logs.v1.LogsService/Export',
  metrics: '/opentelemetry.proto.collector.metrics.v1.MetricsService/Export',
};
/** The longest detail logged from a receiver's answer. */
const MAX_DETAIL = 2000;
const clip = (s: string) => (s.length > MAX_DETAIL ? `${s.slice(0, MAX_DETAIL)}…` : s);
const REJECTED_FIELD: Record<Signal, string> = { traces: 'rejectedSpans', logs: 'rejectedLogRecords', metrics: 'rejectedDataPoints' };
// The OTLP spec's retryable gRPC codes. RESOURCE_EXHAUSTED is retryable only when its status carries
// a google.rpc.RetryInfo (the server says recovery is possible), as the spec and the Collector's otlp
// exporter (`shouldRetry`) have it; without one it is permanent.
const GRPC_RETRYABLE = new Set([
  grpc.status.CANCELLED,
  grpc.status.DEADLINE_EXCEEDED,
  grpc.status.ABORTED,
  grpc.status.OUT_OF_RANGE,
  grpc.status.UNAVAILABLE,
  grpc.status.DATA_LOSS,
]);

/** The RetryInfo a refused call's `grpc-status-details-bin` trailer carries, or null. */
function retryInfoOf(metadata: grpc.Metadata | undefined): { delayMs: number | undefined } | null {
  const [bin] = metadata?.get('grpc-status-details-bin') ?? [];
  return Buffer.isBuffer(bin) ? decodeRetryInfo(bin) : null;
}

/** A refused gRPC call as a send result, by the OTLP spec's rules (see GRPC_RETRYABLE). */
function grpcResult(err: grpc.ServiceError, error: Error): Exclude<ExportResult, { kind: 'success' }> {
  const info = retryInfoOf(err.metadata);
  const retryable = GRPC_RETRYABLE.has(err.code) || (err.code === grpc.status.RESOURCE_EXHAUSTED && info !== null);
  if (!retryable) return { kind: 'failure', error };
  return info?.delayMs === undefined ? { kind: 'retryable', error } : { kind: 'retryable', error, retryAfterMs: info.delayMs };
}

/**
 * Whether a partial-success warning (nothing rejected, a message) is to be logged: once per distinct
 * message, as a receiver repeats the same one on every request. The last 100 are remembered, so one
 * that changes every time logs at most once per batch.
 */
function firstWarnings(): (message: string) => boolean {
  const seen = new LRUCache<string, true>({ max: 100 });
  return (message) => {
    if (seen.has(message)) return false;
    seen.set(message, true);
    return true;
  };
}

/** Rejected items reported in an Export*ServiceResponse's partial_success (0 when none or unreadable). */
function rejectedIn(signal: Signal, body: Buffer): { rejected: number; message: string } {
  if (body.length === 0) return { rejected: 0, message: '' };
  try {
    const res = otlpProto().response[signal].decode(body) as unknown as { partialSuccess?: Record<string, unknown> };
    const ps = res.partialSuccess;
    if (!ps) return { rejected: 0, message: '' };
    return { rejected: Number(ps[REJECTED_FIELD[signal]] ?? 0), message: String(ps.errorMessage ?? '') };
  } catch {
    return { rejected: 0, message: '' };
  }
}

/** What errors and logs call one Export request: `OTLP/HTTP Export`. */
function callName(protocol: 'http' | 'grpc'): string {
  return protocol === 'http' ? 'OTLP/HTTP Export' : 'OTLP/gRPC Export';
}

interface ExportRequest<S extends Signal> {
  tenant: string;
  body: Uint8Array;
  items: readonly SignalItems[S][];
}

/** What one Export request came to: accepted (with what its partial success rejected), or the result that refused it. */
type RequestAnswer = { kind: 'accepted'; rejected: number; message: string } | { kind: 'refused'; result: Exclude<ExportResult, { kind: 'success' }> };

/**
 * Sends a batch's requests one after another and adds up what became of its items: a request
 * refused for good fails its items and the next is still sent; at a request worth retrying the
 * batch stops, and that request's items and the later ones are the retry (the whole batch when it
 * is the first). Rejected items of a partial success, and items too large to send, count as failed.
 */
async function sendRequests<S extends Signal>(
  batch: { items: number; requests: readonly ExportRequest<S>[]; oversize: number },
  post: (request: ExportRequest<S>) => Promise<RequestAnswer>,
  what: string,
  call: string,
  log: Logger,
  isNewWarning: (message: string) => boolean,
): Promise<SendResult<S>> {
  let rejected = 0;
  let message = '';
  let refused = 0;
  let refusal: Error | undefined;
  const { items, requests, oversize } = batch;
  const failed = () => Math.min(rejected + refused + oversize, items);
  for (const [i, request] of requests.entries()) {
    const answer = await post(request);
    if (answer.kind === 'accepted') {
      rejected += answer.rejected;
      message ||= answer.message;
      continue;
    }
    const { result } = answer;
    if (result.kind === 'retryable') {
      if (i === 0) return result;
      const retry = requests.slice(i).flatMap((r) => r.items);
      return { kind: 'partial', retry, failed: failed(), error: result.error, ...(result.retryAfterMs !== undefined && { retryAfterMs: result.retryAfterMs }) };
    }
    refused += request.items.length;
    refusal ??= result.error;
  }
  if (rejected > 0) log.warn({ call, rejected, detail: clip(message) }, `${what} rejected part of a batch`);
  // OTLP lets a receiver warn through partial_success while accepting everything.
  else if (message !== '' && isNewWarning(message)) log.warn({ call, detail: clip(message) }, `${what} accepted a batch with a warning (partial success; each distinct message is logged once)`);
  if (failed() === 0) return { kind: 'success' };
  const error =
    refusal ?? (rejected > 0 ? new Error(`${what} rejected ${rejected} of ${items} items (partial success to ${call})`) : new Error(`${oversize} of ${items} items were each larger than maxRequestBytes and not sent`));
  if (refused === items) return { kind: 'failure', error };
  return { kind: 'partial', retry: [], failed: failed(), error };
}

/**
 * The batch as Export requests, one or more per tenant, each body at most `maxBytes`; `oversize`
 * counts the items that alone encode larger (not sent: the receiver would refuse them every time).
 */
export function exportRequests<S extends Signal>(signal: S, items: readonly SignalItems[S][], maxBytes: number): { requests: ExportRequest<S>[]; oversize: number } {
  const requests: ExportRequest<S>[] = [];
  let oversize = 0;
  // One request per tenant (or more, cut to size), as the tenant travels in a header.
  for (const request of encodeByTenantWithin(signal, items, maxBytes)) {
    if (request.body.length > maxBytes) oversize++;
    else requests.push(request);
  }
  return { requests, oversize };
}

function tenantWanted(settings: OtlpSenderSettings, tenant: string): boolean {
  return settings.tenantHeader !== '' && (tenant !== DEFAULT_TENANT || settings.alwaysSendTenant);
}

/** `what` names the backend in errors and logs (`jaeger`); `log` gets what the receiver said. */
export function createOtlpSender<S extends Signal>(signal: S, settings: OtlpSenderSettings, what: string, log: Logger): Sender<S> {
  return settings.protocol === 'grpc' ? grpcSender(signal, settings, what, log) : httpSender(signal, settings, what, log);
}

function httpSender<S extends Signal>(signal: S, settings: OtlpSenderSettings, what: string, log: Logger): Sender<S> {
  const poster = createHttpPoster(settings.endpoint, settings);
  const call = callName('http');
  const isNewWarning = firstWarnings();
  return {
    endpoint: `${poster.origin}${PATH[signal]}`,
    async send(items: readonly SignalItems[S][], abortSignal: AbortSignal): Promise<SendResult<S>> {
      const { requests, oversize } = exportRequests(signal, items, settings.maxRequestBytes);
      if (oversize > 0) log.warn({ call, oversize, maxRequestBytes: settings.maxRequestBytes }, `items larger than maxRequestBytes alone were not sent to ${what}`);
      const post = async (part: ExportRequest<S>): Promise<RequestAnswer> => {
        const headers: Record<string, string> = { 'content-type': 'application/x-protobuf' };
        if (tenantWanted(settings, part.tenant)) headers[settings.tenantHeader] = part.tenant;
        let answer;
        try {
          answer = await poster.post(PATH[signal], part.body, headers, abortSignal, settings.compression === 'gzip');
        } catch (err) {
          if (abortSignal.aborted) return { kind: 'refused', result: { kind: 'retryable', error: new Error(`the ${call} request to ${what} was aborted`) } };
          const code = networkCode(err);
          log.warn({ call, code, detail: clip(err instanceof Error ? err.message : String(err)) }, `${what} export failed`);
          return { kind: 'refused', result: { kind: 'retryable', error: new Error(code ? `cannot reach ${what} (${code}) for ${call}` : `cannot reach ${what} for ${call}`) } };
        }
        const retryAfter = answer.headers['retry-after'];
        const result = httpResult(what, answer.status, typeof retryAfter === 'string' ? retryAfter : null);
        if (result.kind !== 'success') {
          // An OTLP receiver answers a google.rpc.Status (protobuf, or JSON), logged as its code and
          // message; any other body (a proxy's page, plain text) is logged as text.
          const status = decodeStatus(answer.body, answer.headers['content-type']);
          const detail = status ? `code ${status.code} (${grpc.status[status.code] ?? 'unknown'}): ${status.message}` : answer.body.toString('utf8');
          log.warn({ call, status: answer.status, items: part.items.length, detail: clip(detail) }, `${what} export failed`);
          return { kind: 'refused', result: { ...result, error: new Error(`${what} answered HTTP ${answer.status} to ${call}`) } };
        }
        return { kind: 'accepted', ...rejectedIn(signal, answer.body) };
      };
      return sendRequests({ items: items.length, requests, oversize }, post, what, call, log, isNewWarning);
    },
    async shutdown() {
      poster.close();
    },
  };
}

/** `host:port` (any other gRPC target passes as written), or an http(s) URL whose scheme picks TLS. */
function grpcTarget(endpoint: string): { target: string; tls: boolean } {
  const m = /^(https?):\/\/([^/]+)/i.exec(endpoint);
  if (m) {
    settingUrl('endpoint', endpoint, ['http:', 'https:']);
    return { target: m[2]!, tls: m[1]!.toLowerCase() === 'https' };
  }
  if (endpoint === '' || /\s/.test(endpoint)) throw new SettingError('endpoint', `${JSON.stringify(endpoint)} is neither host:port nor an http(s) URL`);
  return { target: endpoint, tls: false };
}

function grpcSender<S extends Signal>(signal: S, settings: OtlpSenderSettings, what: string, log: Logger): Sender<S> {
  const { target, tls } = grpcTarget(settings.endpoint);
  const call = callName('grpc');
  let creds = grpc.credentials.createInsecure();
  if (tls) {
    const t = tlsMaterial(settings.tls);
    // insecureSkipVerify skips the whole check, chain and hostname, as over HTTP (Go's and the
    // Collector's insecure_skip_verify); grpc-js needs both options for that.
    creds = grpc.credentials.createSsl(t.ca ?? null, t.key ?? null, t.cert ?? null, {
      ...(!t.rejectUnauthorized && { rejectUnauthorized: false, checkServerIdentity: () => undefined }),
    });
  }
  const client = new grpc.Client(target, creds, { 'grpc.default_compression_algorithm': settings.compression === 'gzip' ? 2 : 0 });
  const fixed = { ...settings.headers, ...authHeaders(settings.auth) };
  const identity = (b: Buffer) => b;
  const isNewWarning = firstWarnings();
  return {
    endpoint: `grpc://${target}`,
    async send(items: readonly SignalItems[S][], abortSignal: AbortSignal): Promise<SendResult<S>> {
      // The attempt's timeout goes to the receiver as the calls' deadline (`grpc-timeout`), as the
      // Collector's exporter does, so a slow receiver can stop work the gateway has given up on.
      const deadline = Date.now() + settings.timeoutMs;
      const { requests, oversize } = exportRequests(signal, items, settings.maxRequestBytes);
      if (oversize > 0) log.warn({ call, oversize, maxRequestBytes: settings.maxRequestBytes }, `items larger than maxRequestBytes alone were not sent to ${what}`);
      const post = async (part: ExportRequest<S>): Promise<RequestAnswer> => {
        const md = new grpc.Metadata();
        for (const [k, v] of Object.entries(fixed)) md.set(k.toLowerCase(), v);
        if (tenantWanted(settings, part.tenant)) md.set(settings.tenantHeader.toLowerCase(), part.tenant);
        const outcome = await new Promise<{ err: grpc.ServiceError | null; body?: Buffer }>((resolve) => {
          const rpc = client.makeUnaryRequest(GRPC_METHOD[signal], identity, identity, Buffer.from(part.body), md, { deadline }, (err, body) => resolve({ err, body }));
          abortSignal.addEventListener('abort', () => rpc.cancel(), { once: true });
        });
        if (outcome.err) {
          const status = grpc.status[outcome.err.code] ?? String(outcome.err.code);
          // grpc-js reports a failed connection as UNAVAILABLE with the address in its details.
          const code = outcome.err.code === grpc.status.UNAVAILABLE ? networkCode(outcome.err.details) : undefined;
          log.warn({ call, status, code, items: part.items.length, detail: clip(outcome.err.details) }, `${what} export failed`);
          const error = new Error(code ? `cannot reach ${what} (${code}) for ${call}` : `${what} answered gRPC ${status} to ${call}`);
          return { kind: 'refused', result: grpcResult(outcome.err, error) };
        }
        return { kind: 'accepted', ...rejectedIn(signal, outcome.body ?? Buffer.alloc(0)) };
      };
      return sendRequests({ items: items.length, requests, oversize }, post, what, call, log, isNewWarning);
    },
    async shutdown() {
      client.close();
    },
  };
}
