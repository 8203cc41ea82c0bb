// Writes log records into a data stream with the bulk API and says, per record, what happened, so the
// exporter (with the shared retry/queue helper) can resend exactly the records worth resending.
//
// - Every op is `create` (the only op a data stream takes), with a stable `_id` (documents.ts
//   `recordId`, or the caller's): a resent record that is already stored answers 409, counted as written.
// - `_bulk` answers 200 even when items fail: 429 and 5xx items come back in `retry` (with their IDs);
//   any other failed item is permanent, counted in `failed` by error type and logged once per batch.
// - Elasticsearch's reasons quote the documents ("Preview of field's value: '…'"), so they go to the
//   component log only (clipped); `error` and the failure types are what may be shown to admins.
// - A whole request refused with 429/5xx, not answered (connection fault, timeout), or answered 2xx by
//   something that is not Elasticsearch (no x-elastic-product) retries every record of it;
//   400/401/403/413 fail every record of it. The client itself never retries a bulk request
//   (maxRetries 0): retrying belongs to the shared helper.
// - A batch larger than maxBulkBytes goes in several requests, one after another. At a request refused
//   whole for a while the batch stops: that request's records and those not sent yet are the retry
//   (Elasticsearch shedding load gets no more of the batch), those of the earlier requests stay written.
// - Requests are bounded by their real size: the writer serializes each NDJSON line itself (the client
//   sends strings as they are) and adds up their UTF-8 bytes.
import type { Client, estypes } from '@elastic/elasticsearch';
import type { Logger } from 'pino';
import type { LogRecord } from '../../model/telemetry.ts';
import { createClient, type ElasticsearchConnectionOptions } from './client.ts';
import { dataStreamFields, encodeRecord, logToDocument, recordId, type ResourceCache } from './documents.ts';
import { BULK_CALL, CREDENTIALS_REFUSED, describeError, errorInfo, isAuthFailure, isPrivilegeFailure, isTransient, PRIVILEGE_MISSING, toStoreError } from './errors.ts';
import { DEFAULT_TEMPLATE_PATTERN, logsIndexTemplate } from './template.ts';
import { parseRetryAfter } from '../../../ingest/exporters/helpers/settings.ts';

export const DEFAULT_DATA_STREAM = 'logs-teleql-default';

export interface ElasticsearchLogWriterOptions extends ElasticsearchConnectionOptions {
  /** Where records go; default `logs-teleql-default`. */
  dataStream?: string;
  /** The index pattern of `ensureIndexTemplate`; default `logs-teleql-*` (must match dataStream). */
  templatePattern?: string;
  /**
   * The largest `_bulk` body in bytes: a batch goes in as many requests as keep under it, and only a
   * record whose lines alone are larger goes over it (alone). Default 10 MiB (Elastic suggests 5–15 MB
   * per bulk; Elasticsearch refuses requests over http.max_content_length, 100 MB, with 413, which fails them).
   */
  maxBulkBytes?: number;
  logger: Logger;
}

export const DEFAULT_MAX_BULK_BYTES = 10 * 1024 * 1024;

/** An outcome with nothing in it yet. */
const noOutcome = (): BulkOutcome => ({ written: 0, duplicates: 0, retry: [], retryIds: [], failed: [] });

/** Adds `count` failures of `type` to `failures` (the first reason seen for a type is kept). */
function addFailures(failures: Map<string, BulkFailure>, type: string, reason: string, count: number): void {
  const seen = failures.get(type);
  if (seen) seen.count += count;
  else failures.set(type, { type, reason, count });
}

export interface BulkFailure {
  /** ES's error type, e.g. `document_parsing_exception`, or `request` for a whole-request failure. */
  type: string;
  /** The first reason seen for this type in the batch. It can quote the document: log it, never show it. */
  reason: string;
  count: number;
}

/** What one bulk attempt did with each record. `written + retry.length + Σ failed.count` = records sent. */
export interface BulkOutcome {
  /** Stored now, or already stored (409 on create). */
  written: number;
  /** Of `written`, those that were already stored (a resend of a batch that had gone through). */
  duplicates: number;
  /** Worth resending later: per-item 429/5xx, or every record when the whole request was refused for a while. */
  retry: LogRecord[];
  /** The document IDs of `retry`, in the same order: pass them back as `ids` so a resend stays idempotent. */
  retryIds: string[];
  /** Permanent failures: resending the same records would fail again. */
  failed: BulkFailure[];
  /**
   * When the whole request failed: why, fit to show (`backends.lastError`): the call, the status and
   * Elasticsearch's error type, as StoreError messages do; never the node's address, Elasticsearch's
   * reason or credentials. The detail is in the log.
   */
  error?: string;
  /** From the server's Retry-After header, when it sent one. */
  retryAfterMs?: number;
  /**
   * Set when a request was refused whole for a while (429/5xx, not answered, a 2xx not from
   * Elasticsearch): the batch stopped there, and `retry` is that request's records and the later
   * ones, not sent. What earlier requests wrote does not say the backend recovered.
   */
  stopped?: true;
}

export interface ElasticsearchLogWriter {
  /**
   * `ids`, when given, are the document IDs (one per record), e.g. `retryIds` of an earlier attempt;
   * a record without one (undefined) gets its ID derived, numbered among those derived, so a record
   * resent alone never takes the ID of an identical twin that was written.
   */
  writeLogs(records: readonly LogRecord[], ids?: readonly (string | undefined)[], opts?: { signal?: AbortSignal }): Promise<BulkOutcome>;
  /** Installs the index template (idempotent); call before the first write to a new data stream. Rejects with a StoreError. */
  ensureIndexTemplate(): Promise<void>;
  close(): Promise<void>;
}

type BulkItem = Partial<Record<estypes.BulkOperationType, estypes.BulkResponseItem>>;

/** The longest detail logged from an answer (Elasticsearch's reasons, which can quote documents). */
const MAX_DETAIL = 2000;
const clip = (s: string) => (s.length > MAX_DETAIL ? `${s.slice(0, MAX_DETAIL)}…` : s);

// Only what the outcome needs: on a batch of 8,192 records the full item list is ~2 MB of JSON.
const FILTER_PATH = 'errors,items.*.status,items.*.error.type,items.*.error.reason';

function retryAfterMs(headers: Record<string, unknown> | undefined): number | undefined {
  const v = headers?.['retry-after'];
  return typeof v === 'string' ? parseRetryAfter(v) : undefined;
}

export function createElasticsearchLogWriter(opts: ElasticsearchLogWriterOptions): ElasticsearchLogWriter {
  const client: Client = createClient(opts, 0);
  const dataStream = opts.dataStream ?? DEFAULT_DATA_STREAM;
  const dsFields = dataStreamFields(dataStream);
  const logger = opts.logger;

  /** Each record's two NDJSON lines (action, document) as sent, its document ID, and the bytes of both lines with their newlines. */
  function operations(records: readonly LogRecord[], ids: readonly (string | undefined)[] | undefined): { lines: string[]; docIds: string[]; sizes: number[] } {
    const lines: string[] = [];
    const docIds: string[] = [];
    const sizes: number[] = [];
    const cache: ResourceCache = new Map();
    const seen = new Map<string, number>();
    records.forEach((l, i) => {
      const record = encodeRecord(l);
      let id = ids?.[i];
      if (id === undefined) {
        const key = `${l.tenant}\0${record}`;
        const occurrence = seen.get(key) ?? 0;
        seen.set(key, occurrence + 1);
        id = recordId(l.tenant, record, occurrence);
      }
      docIds.push(id);
      // As the client would serialize them (JSON.stringify); it sends strings as they are, one a line.
      const action = JSON.stringify({ create: { _index: dataStream, _id: id } });
      const document = JSON.stringify(logToDocument(l, id, record, dsFields, cache));
      lines.push(action, document);
      sizes.push(Buffer.byteLength(action) + Buffer.byteLength(document) + 2);
    });
    return { lines, docIds, sizes };
  }

  function wholeRequestFailed(records: readonly LogRecord[], docIds: string[], err: unknown): BulkOutcome {
    const detail = describeError(err, opts.node);
    const error = toStoreError(err, { what: BULK_CALL }).message;
    const headers = (err as { meta?: { headers?: Record<string, unknown> } }).meta?.headers;
    if (isTransient(err)) {
      logger.warn({ call: BULK_CALL, records: records.length, detail: clip(detail) }, 'elasticsearch bulk request failed; the batch can be retried');
      const after = retryAfterMs(headers);
      return { written: 0, duplicates: 0, retry: [...records], retryIds: docIds, failed: [], error, ...(after !== undefined && { retryAfterMs: after }), stopped: true };
    }
    const status = (err as { statusCode?: number }).statusCode;
    const info = status !== undefined ? errorInfo(status, (err as { body?: unknown }).body) : undefined;
    const type = info ? info.type : err instanceof Error ? err.name : 'error';
    // Security refusals' reasons name the user: a fixed text instead (the log has the whole of it).
    const reason = info && isAuthFailure(info) ? CREDENTIALS_REFUSED : info && isPrivilegeFailure(info) ? PRIVILEGE_MISSING : detail;
    logger.error({ call: BULK_CALL, records: records.length, detail: clip(detail) }, 'elasticsearch refused the bulk request; the batch is dropped');
    return { written: 0, duplicates: 0, retry: [], retryIds: [], failed: [{ type, reason, count: records.length }], error };
  }

  const maxBulkBytes = opts.maxBulkBytes ?? DEFAULT_MAX_BULK_BYTES;

  return {
    async writeLogs(records, ids, callOpts) {
      if (ids !== undefined && ids.length !== records.length) {
        throw new Error(`writeLogs needs one ID per record (records: ${records.length}, ids: ${ids.length})`);
      }
      if (records.length === 0) return noOutcome();
      const { lines, docIds, sizes } = operations(records, ids);
      // One _bulk request per run of records within maxBulkBytes (a record larger alone goes alone).
      const outcomes: BulkOutcome[] = [];
      for (let start = 0; start < records.length; ) {
        let end = start + 1;
        for (let bytes = sizes[start]!; end < records.length && bytes + sizes[end]! <= maxBulkBytes; end++) bytes += sizes[end]!;
        const outcome = await bulk(records.slice(start, end), lines.slice(2 * start, 2 * end), docIds.slice(start, end), callOpts?.signal);
        outcomes.push(outcome);
        if (outcome.stopped && end < records.length) {
          // The records not sent yet wait with this request's: their IDs go with them, so a resend stays idempotent.
          outcomes.push({ ...noOutcome(), retry: records.slice(end), retryIds: docIds.slice(end) });
          break;
        }
        start = end;
      }
      return outcomes.length === 1 ? outcomes[0]! : mergeOutcomes(outcomes);
    },

    async ensureIndexTemplate() {
      try {
        await client.indices.putIndexTemplate(logsIndexTemplate(opts.templatePattern ?? DEFAULT_TEMPLATE_PATTERN));
      } catch (err) {
        const mapped = toStoreError(err, { what: 'installing the index template' });
        logger.warn({ err: mapped.message, detail: describeError(err, opts.node) }, 'elasticsearch refused the index template');
        throw mapped;
      }
    },

    async close() {
      await client.close();
    },
  };

  /** One _bulk request and what it did with each of its records. */
  async function bulk(records: readonly LogRecord[], lines: string[], docIds: string[], signal: AbortSignal | undefined): Promise<BulkOutcome> {
    let res: { errors?: boolean; items?: BulkItem[] };
    try {
      res = await client.bulk({ operations: lines, filter_path: FILTER_PATH }, { maxRetries: 0, ...(signal && { signal }) });
    } catch (err) {
      return wholeRequestFailed(records, docIds, err);
    }
    const out = noOutcome();
    if (!res.errors) return { ...out, written: records.length };

    const failures = new Map<string, BulkFailure>();
    records.forEach((record, i) => {
      const item = res.items?.[i];
      const result = item && Object.values(item)[0];
      const status = result?.status ?? 0;
      if (status >= 200 && status < 300) out.written++;
      else if (status === 409) {
        out.written++;
        out.duplicates++;
      } else if (status === 429 || status >= 500 || !result) {
        // No item at all for this op would be a broken response: resending is safe (create + stable ID).
        out.retry.push(record);
        out.retryIds.push(docIds[i]!);
      } else {
        addFailures(failures, result.error?.type ?? `http_${status}`, result.error?.reason ?? `HTTP ${status}`, 1);
      }
    });
    out.failed = [...failures.values()];
    if (out.failed.length > 0) {
      const count = out.failed.reduce((n, f) => n + f.count, 0);
      const types = Object.fromEntries(out.failed.map((f) => [f.type, f.count]));
      const detail = out.failed.map((f) => `${f.type} ×${f.count}: ${f.reason}`).join('; ');
      logger.warn({ call: BULK_CALL, records: records.length, failed: count, types, detail: clip(detail) }, `elasticsearch rejected ${count} of ${records.length} log records`);
    }
    if (out.retry.length > 0) logger.debug({ retry: out.retry.length }, 'elasticsearch asked to resend some log records later');
    return out;
  }
}

/** The outcomes of a batch's requests as one: counts added, failures merged by type, the first error, the longest Retry-After, stopped when one stopped it. */
function mergeOutcomes(outcomes: readonly BulkOutcome[]): BulkOutcome {
  const failures = new Map<string, BulkFailure>();
  const merged = noOutcome();
  for (const o of outcomes) {
    merged.written += o.written;
    merged.duplicates += o.duplicates;
    merged.retry.push(...o.retry);
    merged.retryIds.push(...o.retryIds);
    for (const f of o.failed) addFailures(failures, f.type, f.reason, f.count);
    merged.error ??= o.error;
    if (o.retryAfterMs !== undefined) merged.retryAfterMs = Math.max(merged.retryAfterMs ?? 0, o.retryAfterMs);
    if (o.stopped) merged.stopped = true;
  }
  merged.failed = [...failures.values()];
  return merged;
}
