// The Elasticsearch log store and writer against a local HTTP server that answers like Elasticsearch
// 8.x (real fixture bodies, `x-elastic-product`, compat content types, error statuses), driven by the
// official client. Every test checks the exact requests teleql sends as well as what it makes of the
// answers.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, beforeEach, describe, it } from 'node:test';
import { pino } from 'pino';
import { errors } from '@elastic/elasticsearch';
import type { AnyValue, LogRecord } from '../../../src/model/telemetry.ts';
import { encodeRecord, nsToIso, isoToNs, recordId } from '../../../src/stores/elasticsearch/documents.ts';
import {
  createElasticsearchLogStore,
  createElasticsearchLogWriter,
  logsIndexTemplate,
  type ElasticsearchLogStore,
  type ElasticsearchLogWriter,
} from '../../../src/stores/elasticsearch/index.ts';
import { fromStoreError, type GatewayError } from '../../../src/errors.ts';
import { StoreError, type StoredLogRecord, type TelemetryFilter } from '../../../src/stores/types.ts';
import { rejectsWith } from '../../contract/store-under-test.ts';
import { startFixtureServer } from '../../helpers/fixture-server.ts';
import { attrs, log, resource, scope, SEC, spanId, T0, traceId } from '../../helpers/telemetry-builders.ts';
import { ALL_SHARDS_FAILED_NO_CAUSE, NO_SHARD_AVAILABLE, NODE_NOT_CONNECTED, REGEX_REFUSED, REGEX_TOO_COMPLEX } from '../../fixtures/elasticsearch/error-documents.ts';
import { capturingLogger } from '../../helpers/capturing-logger.ts';

const FIXTURES = new URL('../../../../shared/fixtures/elasticsearch/', import.meta.url);
const fixtureText = (name: string) => readFileSync(new URL(name, FIXTURES), 'utf8');
const fixture = (name: string): Record<string, unknown> => JSON.parse(fixtureText(name)) as Record<string, unknown>;

const JSON_CT = 'application/vnd.elasticsearch+json; compatible-with=8';
const NDJSON_CT = 'application/vnd.elasticsearch+x-ndjson; compatible-with=8';
const PIT_ID = fixture('open-pit.200.json').id as string;


// ---- a server that answers like Elasticsearch -------------------------------------------------

interface Reply {
  status?: number;
  /** A fixture file name, sent byte for byte. */
  file?: string;
  body?: unknown;
  headers?: Record<string, string | string[]>;
  /** false: leave out `x-elastic-product` (a proxy or another product). */
  product?: boolean;
}

interface Seen {
  method: string;
  path: string;
  query: string;
  contentType: string | undefined;
  headers: IncomingHttpHeaders;
  body: string;
}

const WWW_AUTHENTICATE = ['Basic realm="security" charset="UTF-8"', 'Bearer realm="security"', 'ApiKey'];

class FakeElasticsearch {
  readonly requests: Seen[] = [];
  private readonly replies: Reply[] = [];
  private readonly server: Server;
  url = '';

  constructor() {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const url = new URL(req.url ?? '/', 'http://localhost');
        this.requests.push({
          method: req.method ?? '',
          path: url.pathname,
          query: url.search.slice(1),
          contentType: req.headers['content-type'],
          headers: req.headers,
          body: Buffer.concat(chunks).toString('utf8'),
        });
        const r = this.replies.shift() ?? { status: 500, body: { error: `no reply queued for ${req.method} ${req.url}`, status: 500 } };
        const body = Buffer.from(r.file ? fixtureText(r.file) : typeof r.body === 'string' ? r.body : JSON.stringify(r.body ?? {}));
        res.writeHead(r.status ?? 200, {
          'content-type': 'application/vnd.elasticsearch+json;compatible-with=8',
          'content-length': String(body.length),
          ...(r.product === false ? {} : { 'x-elastic-product': 'Elasticsearch' }),
          ...r.headers,
        });
        res.end(body);
      });
    });
  }

  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  reply(...replies: Reply[]): void {
    this.replies.push(...replies);
  }

  /** Forgets requests and unused replies between tests. */
  reset(): void {
    this.requests.length = 0;
    this.replies.length = 0;
  }

  get pending(): number {
    return this.replies.length;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

const json = (s: Seen): unknown => JSON.parse(s.body);
const ndjson = (s: Seen): unknown[] => {
  assert.ok(s.body.endsWith('\n'), 'an NDJSON body ends with a newline');
  return s.body.slice(0, -1).split('\n').map((line) => JSON.parse(line) as unknown);
};

/** A pino logger whose lines land in an array. */
const silent = () => pino({ level: 'silent' });

// ---- what teleql writes ------------------------------------------------------------------------

const TENANT = 'acme';
const withoutId = ({ id: _id, ...rest }: StoredLogRecord): LogRecord => rest;

/** The records of the LogStore contract's lossless test: bodies of every type, ns times, odd doubles. */
function losslessRecords(tenant: string): LogRecord[] {
  const bodies: AnyValue[] = [
    { stringValue: 'plain' },
    { stringValue: '' },
    { boolValue: false },
    { intValue: '-9007199254740993' },
    { doubleValue: 0.1 },
    { bytesValue: 'AQID' },
    { arrayValue: { values: [{ stringValue: 'a' }, { kvlistValue: { values: [{ key: 'k', value: { boolValue: true } }] } }] } },
    { kvlistValue: { values: [{ key: 'msg', value: { stringValue: 'hi' } }, { key: 'empty', value: {} }] } },
    {},
    // Doubles that JSON.stringify writes wrong (null, 0), and the values a plain body cannot tell apart.
    { doubleValue: Number.NaN },
    { doubleValue: -Infinity },
    { doubleValue: -0 },
    { doubleValue: 2 },
    { intValue: '2' },
    { arrayValue: { values: [{ doubleValue: Infinity }, { doubleValue: -0 }] } },
  ];
  const logs = bodies.map((body, i) =>
    log({
      tenant, body, timeUnixNano: T0 + BigInt(i) * SEC + 123_456_789n, observedTimeUnixNano: T0 + BigInt(i) * SEC + 7n, severityNumber: 21,
      severityText: 'FATAL',
      attributes: attrs({ i: BigInt(i), list: { arrayValue: { values: [{ doubleValue: 1.5 }] } }, nan: Number.NaN, negZero: -0, big: 12345678901234567890n }),
      droppedAttributesCount: 2, flags: 1, traceId: traceId(0x777), spanId: spanId(0x778 + i), eventName: 'evt',
      resource: { attributes: attrs({ 'service.name': 'lossless' }), droppedAttributesCount: 1, schemaUrl: 'https://schema' },
      scope: { ...scope('log-lib', '0.1'), attributes: attrs({ s: 's' }), droppedAttributesCount: 3, schemaUrl: 'https://scope' },
    }),
  );
  logs.push(log({ tenant, timeUnixNano: 0n, observedTimeUnixNano: T0 + 100n * SEC, traceId: '', spanId: '', severityText: '' }));
  return logs;
}

// A 403 as Elasticsearch's security layer words it (x-pack/.../authz/AuthorizationService.java,
// "action [...] is unauthorized for user [...] with effective roles [...] on indices [...]"): the
// credentials were accepted; the user's roles lack the privilege. The reason names the user.
const PRIVILEGE_REFUSED = (action: string) => {
  const reason = `action [${action}] is unauthorized for user [teleql] with effective roles [viewer] on indices [logs-teleql-default], this action is granted by the index privileges [read,all]`;
  return { error: { root_cause: [{ type: 'security_exception', reason }], type: 'security_exception', reason }, status: 403 };
};

const server = new FakeElasticsearch();
before(() => server.start());
after(() => server.stop());
beforeEach(() => server.reset());

const openWriter = (extra: Partial<Parameters<typeof createElasticsearchLogWriter>[0]> = {}): ElasticsearchLogWriter =>
  createElasticsearchLogWriter({ node: server.url, logger: silent(), ...extra });
const openStore = (extra: Partial<Parameters<typeof createElasticsearchLogStore>[0]> = {}): ElasticsearchLogStore =>
  createElasticsearchLogStore({ node: server.url, logger: silent(), maxRetries: 0, ...extra });

describe('Elasticsearch log writer', () => {
  it('a batch larger than maxBulkBytes goes in several _bulk requests, each filled up to it; at a refused one the batch stops and the rest is the retry', async () => {
    // 8,192 log records with 12 KB bodies (prompts) were one ~100 MB request, over
    // http.max_content_length: Elasticsearch answers 413, and the whole batch was dropped.
    const writer = openWriter({ maxBulkBytes: 100_000 });
    const records = Array.from({ length: 40 }, (_, i) => log({ tenant: TENANT, timeUnixNano: T0 + BigInt(i), body: { stringValue: `${i}-${'p'.repeat(12_000)}` } }));
    // The first two requests are answered OK, the third refused as a whole (429): Elasticsearch is
    // shedding load, so no more of the batch is sent; that request's records and the unsent ones come back.
    for (let i = 0; i < 20; i++) server.reply(i === 2 ? { status: 429, file: 'error.429.es-rejected-execution.json', headers: { 'retry-after': '3' } } : { file: 'bulk.200.ok.json' });
    const outcome = await writer.writeLogs(records);
    await writer.close();
    const sent = server.requests.map((r) => ndjson(r).length / 2);
    assert.equal(sent.length, 3, `${sent.length} requests: none after the refused one`);
    const bytes = server.requests.map((r) => Buffer.byteLength(r.body));
    for (const b of bytes) assert.ok(b <= 100_000, `${b} bytes`);
    // Measured, not estimated: a request holds as many records as fit (the next one would not).
    const perRecord = bytes[1]! / sent[1]!;
    for (const b of bytes) assert.ok(b + perRecord > 100_000, `${b} bytes of 100,000 used, a record is ${Math.round(perRecord)}`);
    const written = sent[0]! + sent[1]!;
    assert.equal(outcome.written, written);
    assert.equal(outcome.retry.length, 40 - written);
    assert.deepEqual(outcome.retry.map((r) => r.timeUnixNano), records.slice(written).map((r) => r.timeUnixNano));
    assert.equal(outcome.retryIds?.length, 40 - written, 'each record to resend keeps its document ID');
    assert.equal(outcome.stopped, true);
    assert.equal(outcome.retryAfterMs, 3000);
    server.reset();
  });

  it('sends one bulk request of create ops into the data stream, as NDJSON ending in a newline', async () => {
    const writer = openWriter();
    const records = [
      log({ tenant: TENANT, body: { stringValue: 'GET /search 200' }, traceId: traceId(1).toUpperCase(), spanId: spanId(2), eventName: 'http.access',
        attributes: attrs({ 'http.method': 'GET', 'http.status_code': 200n, ratio: 0.5, ok: true, tags: { arrayValue: { values: [{ stringValue: 'a' }] } }, '': 'no key', 'a..b': 'bad key' }),
        resource: resource('checkout', { 'telemetry.source': 'claude-code' }) }),
      log({ tenant: TENANT, timeUnixNano: 0n, observedTimeUnixNano: T0 + 5n, severityText: '', body: { kvlistValue: { values: [{ key: 'message', value: { stringValue: 'DB timeout' } }] } } }),
      log({ tenant: 'other', body: {} }),
      log({ tenant: TENANT, body: { stringValue: 'GET /search 200' }, traceId: traceId(1).toUpperCase(), spanId: spanId(2), eventName: 'http.access',
        attributes: attrs({ 'http.method': 'GET', 'http.status_code': 200n, ratio: 0.5, ok: true, tags: { arrayValue: { values: [{ stringValue: 'a' }] } }, '': 'no key', 'a..b': 'bad key' }),
        resource: resource('checkout', { 'telemetry.source': 'claude-code' }) }),
    ];
    server.reply({ file: 'bulk.200.ok.json' });
    const outcome = await writer.writeLogs(records);
    await writer.close();
    assert.deepEqual(outcome, { written: 4, duplicates: 0, retry: [], retryIds: [], failed: [] });

    assert.equal(server.requests.length, 1);
    const [req] = server.requests;
    assert.equal(req!.method, 'POST');
    assert.equal(req!.path, '/_bulk');
    assert.equal(req!.query, 'filter_path=errors%2Citems.*.status%2Citems.*.error.type%2Citems.*.error.reason');
    assert.equal(req!.contentType, NDJSON_CT);
    assert.equal(req!.headers.accept, JSON_CT);
    const lines = ndjson(req!);
    assert.equal(lines.length, 8, 'four action/document pairs');
    const actions = lines.filter((_, i) => i % 2 === 0) as { create: { _index: string; _id: string } }[];
    for (const a of actions) {
      assert.deepEqual(Object.keys(a), ['create']);
      assert.equal(a.create._index, 'logs-teleql-default');
      assert.match(a.create._id, /^[A-Za-z0-9_-]{22}$/);
    }
    assert.equal(new Set(actions.map((a) => a.create._id)).size, 4, 'equal records in one batch still get their own IDs');

    const docs = lines.filter((_, i) => i % 2 === 1) as Record<string, unknown>[];
    const teleql = (d: Record<string, unknown>) => d.teleql as { record: string; id: string; tenant: string };
    assert.deepEqual(docs[0], {
      '@timestamp': '2023-11-14T22:13:20.000000000Z',
      observed_timestamp: '2023-11-14T22:13:20.001000000Z',
      severity_number: 9,
      severity_text: 'INFO',
      body: { text: 'GET /search 200' },
      attributes: { 'http.method': 'GET', 'http.status_code': 200, ratio: 0.5, ok: true, tags: '["a"]' },
      resource: { attributes: { 'service.name': 'checkout', 'telemetry.source': 'claude-code' } },
      scope: { name: 'test-scope', version: '1.0.0' },
      trace_id: traceId(1),
      span_id: spanId(2),
      event_name: 'http.access',
      data_stream: { type: 'logs', dataset: 'teleql', namespace: 'default' },
      teleql: { tenant: TENANT, id: actions[0]!.create._id, record: teleql(docs[0]!).record },
    });
    // No event time: @timestamp is the observed time; a structured body is kept and searchable as text.
    assert.deepEqual(docs[1], {
      '@timestamp': '2023-11-14T22:13:20.000000005Z',
      observed_timestamp: '2023-11-14T22:13:20.000000005Z',
      severity_number: 9,
      body: { structured: { kvlistValue: { values: [{ key: 'message', value: { stringValue: 'DB timeout' } }] } } },
      resource: { attributes: { 'service.name': 'checkout' } },
      scope: { name: 'test-scope', version: '1.0.0' },
      data_stream: { type: 'logs', dataset: 'teleql', namespace: 'default' },
      teleql: { tenant: TENANT, id: actions[1]!.create._id, record: teleql(docs[1]!).record, body_text: '{"message":"DB timeout"}' },
    });
    assert.equal(teleql(docs[2]!).tenant, 'other', 'every document carries its tenant');
    assert.equal('body' in docs[2]!, false, 'an empty body is not indexed');
    assert.equal(JSON.parse(teleql(docs[0]!).record).timeUnixNano, String(T0), 'the record keeps ns times as decimal text');
  });

  it('gives the same records the same IDs on every attempt, so a resent create is answered 409 and counted as written', async () => {
    const writer = openWriter();
    const records = [log({ tenant: TENANT, body: { stringValue: 'a' } }), log({ tenant: TENANT, body: { stringValue: 'b' } })];
    server.reply({ file: 'bulk.200.ok.json' });
    await writer.writeLogs(records);
    const conflict = {
      errors: true,
      items: [
        { create: { status: 409, error: { type: 'version_conflict_engine_exception', reason: '[x]: version conflict, document already exists (current version [1])' } } },
        { create: { status: 201 } },
      ],
    };
    server.reply({ body: conflict });
    const outcome = await writer.writeLogs(records);
    await writer.close();
    assert.deepEqual(outcome, { written: 2, duplicates: 1, retry: [], retryIds: [], failed: [] });
    const ids = server.requests.map((r) => ndjson(r).filter((_, i) => i % 2 === 0));
    assert.deepEqual(ids[0], ids[1]);
  });

  it('returns the 429 items of a mixed bulk answer for retry and counts the rest as failures, logged once per batch', async () => {
    const { logger, lines } = capturingLogger();
    const writer = openWriter({ logger });
    const records = ['GET /search 200', 'bad type', 'rejected', 'blocked', 'wrong op'].map((text, i) =>
      log({ tenant: TENANT, timeUnixNano: T0 + BigInt(i) * SEC, body: { stringValue: text } }));
    server.reply({ file: 'bulk.200.errors-mixed-datastream.json' });
    const outcome = await writer.writeLogs(records);
    await writer.close();

    const sentIds = ndjson(server.requests[0]!).filter((_, i) => i % 2 === 0).map((a) => (a as { create: { _id: string } }).create._id);
    assert.equal(outcome.written, 1);
    assert.equal(outcome.duplicates, 0);
    assert.deepEqual(outcome.retry, [records[2], records[3]]);
    assert.deepEqual(outcome.retryIds, [sentIds[2], sentIds[3]]);
    assert.deepEqual(outcome.failed, [
      {
        type: 'document_parsing_exception',
        reason: "[1:86] failed to parse field [severity_number] of type [long] in document with id 'XEtpsmIBdwcYyG50zbta'. Preview of field's value: 'WARN'",
        count: 1,
      },
      { type: 'illegal_argument_exception', reason: 'only write ops with an op_type of create are allowed in data streams', count: 1 },
    ]);
    const warnings = lines.filter((l) => l.level === 40);
    assert.equal(warnings.length, 1, 'one warning for the batch, not one per item');
    assert.equal(warnings[0]!.msg, 'elasticsearch rejected 2 of 5 log records');
    assert.deepEqual(
      [warnings[0]!.call, warnings[0]!.failed, warnings[0]!.types],
      ['_bulk', 2, { document_parsing_exception: 1, illegal_argument_exception: 1 }],
    );
    assert.equal(
      warnings[0]!.detail,
      "document_parsing_exception ×1: [1:86] failed to parse field [severity_number] of type [long] in document with id 'XEtpsmIBdwcYyG50zbta'. Preview of field's value: 'WARN'; " +
        'illegal_argument_exception ×1: only write ops with an op_type of create are allowed in data streams',
      'the reasons, which quote the document, are in the log',
    );
  });

  it('logs rejection reasons clipped to 2,000 characters', async () => {
    const { logger, lines } = capturingLogger();
    const writer = openWriter({ logger });
    // The mixed fixture's document_parsing_exception item, its value preview made 5,000 characters long.
    const mixed = fixture('bulk.200.errors-mixed-datastream.json') as { items: { create: { error?: { reason: string } } }[] };
    const item = mixed.items[1]!.create;
    item.error!.reason = item.error!.reason.replace("'WARN'", `'${'W'.repeat(5000)}'`);
    server.reply({ body: { errors: true, items: [item].map((create) => ({ create })) } });
    const outcome = await writer.writeLogs([log({ tenant: TENANT })]);
    await writer.close();
    assert.equal(outcome.failed[0]!.count, 1);
    const detail = String(lines.find((l) => l.level === 40)?.detail);
    assert.equal(detail.length, 2001, 'the first 2,000 characters and an ellipsis');
    assert.ok(detail.startsWith('document_parsing_exception ×1: [1:86] failed to parse field [severity_number]'));
    assert.ok(detail.endsWith('W…'));
  });

  it('resends with the IDs it is given', async () => {
    const writer = openWriter();
    server.reply({ body: { errors: false, items: [{ create: { status: 201 } }] } });
    await writer.writeLogs([log({ tenant: TENANT })], ['XUtpsmIBdwcYyG50zbta']);
    await writer.close();
    assert.deepEqual(ndjson(server.requests[0]!)[0], { create: { _index: 'logs-teleql-default', _id: 'XUtpsmIBdwcYyG50zbta' } });
  });

  it('returns every record for retry when Elasticsearch rejects the whole request with 429', async () => {
    const { logger, lines } = capturingLogger();
    const writer = openWriter({ logger });
    const records = [log({ tenant: TENANT }), log({ tenant: TENANT, body: { stringValue: 'x' } })];
    server.reply({ status: 429, file: 'error.429.es-rejected-execution.json', headers: { 'retry-after': '3' } });
    const outcome = await writer.writeLogs(records);
    await writer.close();
    assert.equal(server.requests.length, 1, 'the client does not retry on its own');
    assert.equal(outcome.written, 0);
    assert.deepEqual(outcome.retry, records);
    assert.equal(outcome.retryIds.length, 2);
    assert.deepEqual(outcome.failed, []);
    assert.equal(outcome.retryAfterMs, 3000);
    // The error names the call, the status and the type; Elasticsearch's reason is in the log.
    assert.equal(outcome.error, 'Elasticsearch answered HTTP 429 es_rejected_execution_exception to _bulk (the reason is in the gateway log)');
    const logged = lines.find((l) => l.msg === 'elasticsearch bulk request failed; the batch can be retried');
    assert.equal(logged?.call, '_bulk');
    assert.match(String(logged?.detail), /HTTP 429 es_rejected_execution_exception: rejected execution of coordinating operation/);
  });

  it('returns every record for retry when Elasticsearch cannot be reached; the address is in the log only', async () => {
    const { logger, lines } = capturingLogger();
    const writer = createElasticsearchLogWriter({ node: 'http://127.0.0.1:9', logger });
    const outcome = await writer.writeLogs([log({ tenant: TENANT })]);
    await writer.close();
    assert.equal(outcome.retry.length, 1);
    assert.equal(outcome.error, 'cannot reach Elasticsearch (ECONNREFUSED) for _bulk');
    assert.match(String(lines.find((l) => l.call === '_bulk')?.detail), /Elasticsearch at http:\/\/127\.0\.0\.1:9 is unreachable/);
  });

  it('fails the whole batch for good when the credentials are refused, without echoing them', async () => {
    const writer = openWriter({ auth: { username: 'teleql', password: 's3cret-pass' } });
    server.reply({ status: 401, file: 'error.401.security-missing-credentials.json', headers: { 'www-authenticate': WWW_AUTHENTICATE } });
    const outcome = await writer.writeLogs([log({ tenant: TENANT }), log({ tenant: TENANT, body: { stringValue: 'x' } })]);
    await writer.close();
    assert.equal(server.requests[0]!.headers.authorization, `Basic ${Buffer.from('teleql:s3cret-pass').toString('base64')}`);
    assert.deepEqual(outcome.retry, []);
    assert.deepEqual(outcome.failed, [{ type: 'security_exception', reason: 'Elasticsearch refused the credentials', count: 2 }]);
    const text = JSON.stringify(outcome);
    assert.doesNotMatch(text, /s3cret|dGVsZXFsOnMzY3JldC1wYXNz/);
  });

  it('fails the whole batch for good on a 403 write block', async () => {
    const writer = openWriter();
    server.reply({ status: 403, file: 'error.403.cluster-block-index-write.json' });
    const outcome = await writer.writeLogs([log({ tenant: TENANT })]);
    await writer.close();
    assert.equal(outcome.retry.length, 0);
    assert.equal(outcome.failed[0]!.type, 'cluster_block_exception');
  });

  it('fails the whole batch for good when the user lacks a privilege, saying so and not that the credentials were wrong', async () => {
    const writer = openWriter({ auth: { username: 'teleql', password: 's3cret-pass' } });
    server.reply({ status: 403, body: PRIVILEGE_REFUSED('indices:data/write/bulk[s]') });
    const outcome = await writer.writeLogs([log({ tenant: TENANT })]);
    await writer.close();
    assert.deepEqual(outcome.retry, []);
    assert.equal(outcome.failed[0]!.type, 'security_exception');
    assert.doesNotMatch(JSON.stringify(outcome), /refused the credentials|viewer|teleql\]/);
    assert.match(String(outcome.error), /lacks a privilege/);
  });

  it('keeps every record for retry when a 2xx comes from something that is not Elasticsearch (no x-elastic-product)', async () => {
    // A proxy that strips the header, or a login page answering in Elasticsearch's place: nothing
    // says the records went in, so they wait (a resend of any that did is answered 409: same IDs).
    const writer = openWriter();
    server.reply({ file: 'bulk.200.ok.json', product: false });
    const records = [log({ tenant: TENANT }), log({ tenant: TENANT, body: { stringValue: 'x' } })];
    const outcome = await writer.writeLogs(records);
    await writer.close();
    assert.equal(outcome.written, 0);
    assert.equal(outcome.retry.length, 2);
    assert.deepEqual(outcome.failed, []);
    assert.match(String(outcome.error), /x-elastic-product/);
  });

  it('installs the index template for the data stream pattern', async () => {
    const writer = openWriter();
    server.reply({ body: { acknowledged: true } });
    await writer.ensureIndexTemplate();
    await writer.close();
    const [req] = server.requests;
    assert.equal(req!.method, 'PUT');
    assert.equal(req!.path, '/_index_template/teleql-logs');
    assert.equal(req!.contentType, JSON_CT);
    const { name: _name, ...body } = logsIndexTemplate();
    assert.deepEqual(json(req!), body);
    const mappings = (body.template!.mappings!.properties!) as Record<string, { type?: string }>;
    assert.equal(mappings['@timestamp']!.type, 'date_nanos');
  });
});

// ---- reading -----------------------------------------------------------------------------------

const LOG_SORT = (order: 'asc' | 'desc') => [
  { '@timestamp': { order, format: 'strict_date_optional_time_nanos', numeric_type: 'date_nanos', unmapped_type: 'date_nanos' } },
  { 'teleql.id': { order, unmapped_type: 'keyword' } },
];
const TENANT_TERM = { term: { 'teleql.tenant': TENANT } };

describe('Elasticsearch log store', () => {
  it('maps the hits of search.200.json to log records', async () => {
    const store = openStore();
    server.reply({ file: 'open-pit.200.json' }, { file: 'search.200.json' }, { file: 'close-pit.200.json' });
    const page = await store.searchLogs(TENANT, {}, { first: 10 });
    await store.close();
    assert.equal(page.hasNextPage, false);
    assert.equal(page.items.length, 1);
    assert.deepEqual(page.items[0]!.node, {
      id: '0',
      tenant: TENANT,
      resource: { attributes: [], droppedAttributesCount: 0, schemaUrl: '' },
      scope: { name: '', version: '', attributes: [], droppedAttributesCount: 0, schemaUrl: '' },
      timeUnixNano: isoToNs('2099-11-15T14:12:12Z'),
      observedTimeUnixNano: 0n,
      severityNumber: 0,
      severityText: '',
      body: { stringValue: 'GET /search HTTP/1.1 200 1070000' },
      attributes: [
        { key: 'http.request.method', value: { stringValue: 'get' } },
        { key: 'http.response.status_code', value: { intValue: '200' } },
        { key: 'http.response.bytes', value: { intValue: '1070000' } },
        { key: 'http.version', value: { stringValue: '1.1' } },
        { key: 'source.ip', value: { stringValue: '127.0.0.1' } },
        { key: 'user.id', value: { stringValue: 'kimchy' } },
      ],
      droppedAttributesCount: 0,
      flags: 0,
      traceId: '',
      spanId: '',
      eventName: '',
    });
    assert.equal(page.items[0]!.node.timeUnixNano, 4_098_435_132_000_000_000n, '2099-11-15T14:12:12 without a zone is UTC');

    const [open, search, close] = server.requests;
    assert.deepEqual([open!.method, open!.path, open!.query, open!.body], ['POST', '/logs-teleql-*/_pit', 'keep_alive=2m', '']);
    assert.deepEqual([search!.method, search!.path, search!.query, search!.contentType], ['POST', '/_search', '', JSON_CT]);
    assert.deepEqual(json(search!), {
      pit: { id: PIT_ID, keep_alive: '2m' },
      query: { bool: { filter: [TENANT_TERM] } },
      sort: LOG_SORT('desc'),
      size: 11,
      track_total_hits: false,
    });
    assert.deepEqual([close!.method, close!.path, close!.contentType], ['DELETE', '/_pit', JSON_CT]);
    assert.deepEqual(json(close!), { id: PIT_ID }, 'the last page closes its point in time');
  });

  it('pages with search_after inside a point in time and closes it after the last page', async () => {
    const store = openStore({ pitKeepAlive: '1m' });
    server.reply({ file: 'open-pit.200.json' }, { file: 'search.200.pit-search-after.json' });
    const first = await store.searchLogs(TENANT, {}, { first: 1, order: 'OLDEST_FIRST' });
    assert.equal(first.hasNextPage, true);
    assert.deepEqual(first.items.map((i) => i.node.id), ['FaslK3QBySSL_rrj9zM5']);
    assert.equal(first.endCursor, first.items[0]!.cursor);
    assert.equal(server.requests.length, 2, 'a page with more keeps its point in time open');
    assert.equal(json(server.requests[1]!) !== null && (json(server.requests[1]!) as { size: number }).size, 2);

    server.reply({ file: 'search.200.pit-last-page-no-total.json' }, { file: 'close-pit.200.json' });
    const second = await store.searchLogs(TENANT, {}, { first: 1, after: first.endCursor!, order: 'OLDEST_FIRST' });
    await store.close();
    assert.deepEqual(second, { items: [], hasNextPage: false, endCursor: null });
    const [next, close] = server.requests.slice(2);
    assert.equal(next!.path, '/_search', 'a PIT search names no index');
    assert.deepEqual(json(next!), {
      pit: { id: PIT_ID, keep_alive: '1m' },
      query: { bool: { filter: [TENANT_TERM] } },
      sort: LOG_SORT('asc'),
      size: 2,
      track_total_hits: false,
      search_after: ['2099-11-15T14:12:12.000Z', '4294967297'],
    });
    assert.deepEqual([close!.method, close!.path, json(close!)], ['DELETE', '/_pit', { id: PIT_ID }]);
    assert.equal(server.requests.length, 4);
  });

  it('refuses a cursor from a page of the other order as BAD_ARGUMENT, before sending anything', async () => {
    const store = openStore();
    server.reply({ file: 'open-pit.200.json' }, { file: 'search.200.pit-search-after.json' });
    const first = await store.searchLogs(TENANT, {}, { first: 1 });
    assert.equal(first.hasNextPage, true);
    const sent = server.requests.length;
    await rejectsWith(store.searchLogs(TENANT, {}, { first: 1, after: first.endCursor!, order: 'OLDEST_FIRST' }), 'BAD_ARGUMENT', 'issued for order NEWEST_FIRST, not OLDEST_FIRST');
    assert.equal(server.requests.length, sent);
    await store.close();
  });

  it('goes on in a new point in time when the cursor\'s one has expired', async () => {
    const store = openStore();
    server.reply({ file: 'open-pit.200.json' }, { file: 'search.200.pit-search-after.json' });
    const first = await store.searchLogs(TENANT, {}, { first: 1 });
    const missing = {
      error: { root_cause: [{ type: 'search_context_missing_exception', reason: 'No search context found for id [42]' }], type: 'search_phase_execution_exception', reason: 'all shards failed' },
      status: 404,
    };
    server.reply({ status: 404, body: missing }, { body: { id: 'new-pit', _shards: {} } }, { file: 'search.200.pit-last-page-no-total.json' }, { file: 'close-pit.200.json' });
    const second = await store.searchLogs(TENANT, {}, { first: 1, after: first.endCursor! });
    await store.close();
    assert.equal(second.items.length, 0);
    const [, , expired, reopen, retried, close] = server.requests;
    assert.equal((json(expired!) as { pit: { id: string } }).pit.id, PIT_ID);
    assert.equal(reopen!.path, '/logs-teleql-*/_pit');
    assert.deepEqual((json(retried!) as { pit: unknown; search_after: unknown }).pit, { id: 'new-pit', keep_alive: '2m' });
    assert.deepEqual((json(retried!) as { search_after: unknown }).search_after, ['2099-11-15T14:12:12.000Z', '4294967297']);
    assert.deepEqual(json(close!), { id: PIT_ID }, 'the newest pit_id (the one the last answer carried) is closed');
  });

  const dsl: [string, TelemetryFilter, unknown[]][] = [
    [
      'time range, service, severity, event name, IDs and body text',
      {
        timeRange: { from: T0, to: T0 + SEC + 1n }, service: ['checkout', 'payments'], minSeverity: 13, name: ['db.error'],
        traceId: [traceId(1).toUpperCase()], spanId: [spanId(2), spanId(3)], bodyContains: 'DB timeout',
      },
      [
        { range: { '@timestamp': { format: 'strict_date_optional_time_nanos', gte: '2023-11-14T22:13:20.000000000Z', lte: '2023-11-14T22:13:21.000000001Z' } } },
        { terms: { 'resource.attributes.service.name': ['checkout', 'payments'] } },
        { term: { event_name: 'db.error' } },
        { term: { trace_id: traceId(1) } },
        { terms: { span_id: [spanId(2), spanId(3)] } },
        { range: { severity_number: { gte: 13 } } },
        { bool: { should: [{ match_phrase: { 'body.text': 'DB timeout' } }, { match_phrase: { 'teleql.body_text': 'DB timeout' } }], minimum_should_match: 1 } },
      ],
    ],
    [
      'attribute eq looks on the record first, then on the resource',
      { attributes: [{ key: 'db.system', op: 'eq', value: 'postgresql' }] },
      [
        {
          bool: {
            should: [
              { term: { 'attributes.db.system': 'postgresql' } },
              { bool: { must_not: [{ exists: { field: 'attributes.db.system' } }], filter: [{ term: { 'resource.attributes.db.system': 'postgresql' } }] } },
            ],
            minimum_should_match: 1,
          },
        },
      ],
    ],
    [
      'attribute neq, in, regex, exists and gt',
      {
        attributes: [
          { key: 'k', op: 'neq', value: 'x' },
          { key: 'k', op: 'in', values: ['a', 'b'] },
          { key: 'user.id', op: 'regex', value: 'u[0-9]+' },
          { key: 'k', op: 'exists' },
          { key: 'retries', op: 'gt', number: 2 },
        ],
      },
      (() => {
        const on = (key: string, test: (f: string) => unknown) => ({
          bool: {
            should: [test(`attributes.${key}`), { bool: { must_not: [{ exists: { field: `attributes.${key}` } }], filter: [test(`resource.attributes.${key}`)] } }],
            minimum_should_match: 1,
          },
        });
        const existsK = { bool: { should: [{ exists: { field: 'attributes.k' } }, { exists: { field: 'resource.attributes.k' } }], minimum_should_match: 1 } };
        return [
          { bool: { filter: [existsK], must_not: [on('k', (f) => ({ term: { [f]: 'x' } }))] } },
          on('k', (f) => ({ terms: { [f]: ['a', 'b'] } })),
          on('user.id', (f) => ({ regexp: { [f]: { value: 'u[0-9]+', flags: 'NONE' } } })),
          existsK,
          on('retries', (f) => ({ range: { [`${f}.teleql_num`]: { gt: 2 } } })),
        ];
      })(),
    ],
    [
      'or, not and a nested and',
      { or: [{ not: { service: ['checkout', 'unknown_service'] } }, { minSeverity: 17 }], and: [{ telemetrySource: ['claude-code'] }] },
      [
        {
          bool: {
            should: [
              { terms: { 'attributes.telemetry.source': ['claude-code'] } },
              { bool: { must_not: [{ exists: { field: 'attributes.telemetry.source' } }], filter: [{ terms: { 'resource.attributes.telemetry.source': ['claude-code'] } }] } },
            ],
            minimum_should_match: 1,
          },
        },
        {
          bool: {
            should: [
              {
                bool: {
                  must_not: [
                    {
                      bool: {
                        should: [
                          { terms: { 'resource.attributes.service.name': ['checkout', 'unknown_service'] } },
                          { bool: { must_not: [{ exists: { field: 'resource.attributes.service.name' } }] } },
                        ],
                        minimum_should_match: 1,
                      },
                    },
                  ],
                },
              },
              { range: { severity_number: { gte: 17 } } },
            ],
            minimum_should_match: 1,
          },
        },
      ],
    ],
    ['an attribute key that cannot be a field name', { attributes: [{ key: 'a*', op: 'eq', value: 'x' }] }, [{ match_none: {} }]],
  ];
  for (const [label, filter, clauses] of dsl) {
    it(`translates a filter to query DSL: ${label}`, async () => {
      const store = openStore();
      server.reply({ file: 'open-pit.200.json' }, { file: 'search.200.pit-last-page-no-total.json' }, { file: 'close-pit.200.json' });
      await store.searchLogs(TENANT, filter, { first: 5 });
      await store.close();
      assert.deepEqual((json(server.requests[1]!) as { query: unknown }).query, { bool: { filter: [TENANT_TERM, ...clauses] } });
    });
  }

  it('refuses span-only filter fields as BAD_QUERY naming the field, before sending anything', async () => {
    const store = openStore();
    await rejectsWith(store.searchLogs(TENANT, { kind: [2] }, { first: 5 }), 'BAD_QUERY', 'kind');
    await rejectsWith(store.searchLogs(TENANT, { not: { minDuration: 1n } }, { first: 5 }), 'BAD_QUERY', 'minDuration');
    await rejectsWith(store.searchLogs(TENANT, { or: [{ status: ['ERROR'] }] }, { first: 5 }), 'BAD_QUERY', 'status');
    await rejectsWith(store.searchLogs(TENANT, {}, { first: 5, after: 'bm90IGEgY3Vyc29y' }), 'BAD_ARGUMENT', 'cursor');
    // Cursors that decode but were not written by this store: Elasticsearch would fail their search_after with a 400.
    const handMade = (k: unknown) => Buffer.from(JSON.stringify({ o: 'n', k })).toString('base64url');
    for (const k of [{ v: ['yesterday'] }, { v: ['2099-11-15T14:12:12.000Z', 'id', 'x'] }, { v: [1, 'id'] }, { v: ['1', 'a', '2', 'b'] }, { v: ['1'], p: 7 }, { v: ['1', 'x'.repeat(600)] }]) {
      await rejectsWith(store.searchLogs(TENANT, {}, { first: 5, after: handMade(k) }), 'BAD_ARGUMENT', 'after: the cursor is not one this store issued');
    }
    await rejectsWith(store.searchLogs(TENANT, {}, { first: 10_001 }), 'BAD_ARGUMENT', 'first');
    await store.close();
    assert.equal(server.requests.length, 0);
  });

  it('reads a missing index as no logs', async () => {
    const store = openStore();
    const notFound: Reply = { status: 404, file: 'error.404.index-not-found.json' };
    server.reply(notFound, notFound, notFound);
    assert.deepEqual(await store.searchLogs(TENANT, {}, { first: 5 }), { items: [], hasNextPage: false, endCursor: null });
    assert.deepEqual(await store.logsForTraces(TENANT, [traceId(1), traceId(2)], 5), [[], []]);
    assert.deepEqual(await store.getLogs(TENANT, ['a', 'b']), [null, null]);
    await store.close();
    assert.equal(server.pending, 0);
  });

  it("maps a 400 for a parameter the gateway sent to INTERNAL, not to the user's bad filter, and closes the point in time it opened", async () => {
    const { logger, lines } = capturingLogger();
    const store = openStore({ logger });
    server.reply({ file: 'open-pit.200.json' }, { status: 400, file: 'error.400.illegal-argument.json' }, { file: 'close-pit.200.json' });
    await assert.rejects(store.searchLogs(TENANT, {}, { first: 5 }), (e: unknown) => {
      assert.ok(e instanceof StoreError);
      assert.equal(e.code, 'INTERNAL');
      assert.equal(e.message, 'Elasticsearch refused the log search as the gateway sent it (HTTP 400 illegal_argument_exception)');
      assert.equal(e.status, 400);
      // What a GraphQL client sees: the backend and the status, nothing Elasticsearch wrote.
      const shown = fromStoreError(e) as GatewayError;
      assert.equal(shown.message, 'elasticsearch failed the query (HTTP 400)');
      assert.deepEqual(shown.extensions, { code: 'GW_BACKEND_ERROR', backend: 'elasticsearch' });
      return true;
    });
    await store.close();
    assert.equal(server.requests[2]!.method, 'DELETE');
    const logged = lines.find((l) => l.msg === 'elasticsearch request failed');
    assert.match(String(logged?.detail), /Failed to parse int parameter \[size\] with value \[surprise_me\]/, "Elasticsearch's reason is logged");
  });

  it("maps a search refused for the user's regex to BAD_QUERY with Elasticsearch's reason", async () => {
    const store = openStore();
    const filter: TelemetryFilter = { attributes: [{ key: 'http.route', op: 'regex', value: '(unclosed' }] };
    server.reply({ file: 'open-pit.200.json' }, { status: 400, body: REGEX_REFUSED }, { file: 'close-pit.200.json' });
    await rejectsWith(store.searchLogs(TENANT, filter, { first: 5 }), 'BAD_QUERY', "Elasticsearch refused the filter: failed to create query: expected ')' at position 9");
    server.reply({ file: 'open-pit.200.json' }, { status: 400, body: REGEX_TOO_COMPLEX }, { file: 'close-pit.200.json' });
    await rejectsWith(store.searchLogs(TENANT, filter, { first: 5 }), 'BAD_QUERY', 'Determinizing automaton with 20001 states');
    // The same refusal for a lookup by ID cannot be the user's filter: the gateway built that query.
    server.reply({ status: 400, body: REGEX_REFUSED });
    await assert.rejects(store.getLogs(TENANT, ['a']), (e: unknown) => {
      assert.ok(e instanceof StoreError);
      assert.equal(e.code, 'INTERNAL');
      assert.equal((fromStoreError(e) as GatewayError).message, 'elasticsearch failed the query (HTTP 400)', 'the reason (the user\'s pattern) is not shown');
      return true;
    });
    await store.close();
    assert.equal(server.pending, 0);
  });

  it('maps 429 and 5xx to UNAVAILABLE naming the call and the status, never the reason Elasticsearch wrote', async () => {
    const { logger, lines } = capturingLogger();
    const store = openStore({ logger });
    const cases: [Reply, string][] = [
      [{ status: 429, file: 'error.429.cluster-block-flood-stage.json' }, 'Elasticsearch answered HTTP 429 cluster_block_exception to the log lookup by ID'],
      [{ status: 503, body: NO_SHARD_AVAILABLE }, 'Elasticsearch answered HTTP 503 no_shard_available_action_exception to the log lookup by ID'],
      [{ status: 503, body: ALL_SHARDS_FAILED_NO_CAUSE }, 'Elasticsearch answered HTTP 503 search_phase_execution_exception to the log lookup by ID'],
      [{ status: 500, body: NODE_NOT_CONNECTED }, 'Elasticsearch answered HTTP 500 node_not_connected_exception to the log lookup by ID'],
    ];
    for (const [reply, message] of cases) {
      server.reply(reply);
      await assert.rejects(store.getLogs(TENANT, ['a']), (e: unknown) => {
        assert.ok(e instanceof StoreError);
        assert.equal(e.code, 'UNAVAILABLE');
        assert.equal(e.message, `${message} (the reason is in the gateway log)`);
        assert.doesNotMatch(e.message, /10\.0\.3\.7|9300|flood-stage|\.ds-logs|127\.0\.0\.1/, 'no address, index or reason');
        return true;
      });
    }
    // A query with the user's filter that fails on the server's side is still the server's failure.
    server.reply({ file: 'open-pit.200.json' }, { status: 503, body: NO_SHARD_AVAILABLE }, { file: 'close-pit.200.json' });
    await rejectsWith(store.searchLogs(TENANT, { attributes: [{ key: 'k', op: 'regex', value: 'a.*' }] }, { first: 5 }), 'UNAVAILABLE', 'HTTP 503 no_shard_available_action_exception to the log search');
    await store.close();
    const detail = lines.filter((l) => l.msg === 'elasticsearch request failed').map((l) => String(l.detail));
    assert.match(detail[3]!, /\[es-data-1\]\[10\.0\.3\.7:9300\] Node not connected/, 'the reason, address included, is in the log');
  });

  it('maps compatibility headers the server refuses to UNAVAILABLE: no query can fix that', async () => {
    const store = openStore();
    server.reply({ file: 'open-pit.200.json' }, { status: 400, file: 'error.400.media-type-header.8.x-server-v9-client.json' }, { file: 'close-pit.200.json' });
    await rejectsWith(store.searchLogs(TENANT, {}, { first: 5 }), 'UNAVAILABLE', "refused the client's compatibility headers for the log search (HTTP 400 media_type_header_exception)");
    await store.close();
  });

  it('maps refused credentials to UNAVAILABLE with a clear message that carries no secret', async () => {
    for (const auth of [{ username: 'teleql', password: 's3cret-pass' }, { apiKey: 'c2VjcmV0LWFwaS1rZXk=' }, { bearer: 's3cret-token' }]) {
      server.reset();
      const store = openStore({ auth });
      server.reply({ status: 401, file: 'error.401.security-missing-credentials.json', headers: { 'www-authenticate': WWW_AUTHENTICATE } });
      const err = await store.getLogs(TENANT, ['a']).then(
        () => assert.fail('expected a rejection'),
        (e: unknown) => e,
      );
      await store.close();
      assert.ok(err instanceof StoreError);
      assert.equal(err.code, 'UNAVAILABLE');
      assert.match(err.message, /Elasticsearch refused the credentials \(HTTP 401 security_exception\)/);
      assert.equal(err.cause, undefined, 'the client error (with the request headers) is not kept');
      const sent = server.requests[0]!.headers.authorization!;
      assert.ok(sent.length > 10);
      for (const secret of ['s3cret', 'c2VjcmV0LWFwaS1rZXk', sent.split(' ')[1]!]) assert.ok(!err.message.includes(secret), secret);
    }
  });

  it('maps a missing privilege (403 security_exception) to UNAVAILABLE saying so, not that the credentials were refused', async () => {
    const store = openStore({ auth: { username: 'teleql', password: 's3cret-pass' } });
    server.reply({ status: 403, body: PRIVILEGE_REFUSED('indices:data/read/search') });
    await rejectsWith(store.getLogs(TENANT, ['a']), 'UNAVAILABLE', 'Elasticsearch refused the log lookup by ID (HTTP 403 security_exception): the configured Elasticsearch user lacks a privilege for it; check the roles of the configured user or API key');
    await store.close();
  });

  it('maps a server that does not say it is Elasticsearch to UNAVAILABLE with a clear message', async () => {
    const store = openStore();
    server.reply({ body: { id: PIT_ID }, product: false });
    await rejectsWith(store.searchLogs(TENANT, {}, { first: 5 }), 'UNAVAILABLE', 'did not identify itself as Elasticsearch (no "x-elastic-product: Elasticsearch" header)');
    await store.close();
  });

  // Proven by what the server saw, not by a clock: the request arrived, went unanswered, and the
  // client closed its connection, failing with the client's timeout error. A client that never gave
  // up would hang the test until its `timeout` fails it. The shared fixture server's `hang` route
  // records that; an unanswered request needs none of the Elasticsearch headers above.
  it('maps a request not answered within requestTimeoutMs to UNAVAILABLE and closes its connection', { timeout: 20_000 }, async () => {
    const stalling = await startFixtureServer([{ path: /.*/, hang: true }]);
    const store = createElasticsearchLogStore({ node: stalling.url, logger: silent(), maxRetries: 0, requestTimeoutMs: 100 });
    try {
      await assert.rejects(store.getLogs(TENANT, ['a']), (e: unknown) => {
        assert.ok(e instanceof StoreError, String(e));
        assert.equal(e.code, 'UNAVAILABLE');
        assert.equal(e.message, 'Elasticsearch did not answer the log lookup by ID in time');
        assert.ok(e.cause instanceof errors.TimeoutError, `the cause is the client's timeout error (actual: ${String(e.cause)})`);
        return true;
      });
      assert.deepEqual(stalling.requests.map((r) => `${r.method} ${r.path}`), ['POST /logs-teleql-*/_search']);
      assert.equal(await stalling.requests[0]!.ended, 'abandoned', 'the client closed the connection');
    } finally {
      await store.close();
      await stalling.close();
    }
  });

  it('maps an unreachable node to UNAVAILABLE without its address; the log has it, without the credentials', async () => {
    const { logger, lines } = capturingLogger();
    const store = createElasticsearchLogStore({ node: 'http://user:pw@127.0.0.1:9', logger, maxRetries: 0 });
    await assert.rejects(store.getLogs(TENANT, ['a']), (e: unknown) => {
      assert.ok(e instanceof StoreError);
      assert.equal(e.code, 'UNAVAILABLE');
      assert.equal(e.message, 'cannot reach Elasticsearch (ECONNREFUSED) for the log lookup by ID');
      return true;
    });
    await store.close();
    const logged = lines.find((l) => l.msg === 'elasticsearch request failed');
    assert.match(String(logged?.detail), /Elasticsearch at http:\/\/127\.0\.0\.1:9 is unreachable/);
    assert.doesNotMatch(JSON.stringify(lines), /user:pw/);
  });
});

describe('Elasticsearch log round trip', () => {
  let written: LogRecord[];
  let ids: string[];
  let hits: { _index: string; _id: string; _score: null; _source: unknown; sort: unknown[] }[];

  before(async () => {
    server.reset();
    written = [...losslessRecords(TENANT), log({ tenant: 'intruder', body: { stringValue: 'not yours' } })];
    const writer = openWriter();
    server.reply({ body: { errors: false, items: written.map(() => ({ create: { status: 201 } })) } });
    assert.equal((await writer.writeLogs(written)).written, written.length);
    await writer.close();
    const lines = ndjson(server.requests[0]!);
    ids = lines.filter((_, i) => i % 2 === 0).map((a) => (a as { create: { _id: string } }).create._id);
    // What Elasticsearch would return for those documents: `_source` as sent, sort values as formatted.
    hits = lines
      .filter((_, i) => i % 2 === 1)
      .map((source, i) => {
        const doc = source as { '@timestamp': string };
        return { _index: '.ds-logs-teleql-default-2099.11.15-000001', _id: ids[i]!, _score: null, _source: source, sort: [doc['@timestamp'], ids[i]!, i] };
      });
  });

  const searchBody = (h: typeof hits) => ({ pit_id: PIT_ID, took: 1, timed_out: false, _shards: { total: 1, successful: 1, skipped: 0, failed: 0 }, hits: { max_score: null, hits: h } });

  it('rebuilds every written record exactly, bigint times and odd values included', async () => {
    const store = openStore();
    const mine = hits.slice(0, -1);
    server.reply({ file: 'open-pit.200.json' }, { body: searchBody(mine) }, { file: 'close-pit.200.json' });
    const page = await store.searchLogs(TENANT, {}, { first: 100, order: 'OLDEST_FIRST' });
    assert.deepEqual(page.items.map((i) => withoutId(i.node)), written.slice(0, -1));
    assert.deepEqual(page.items.map((i) => i.node.id), ids.slice(0, -1));

    server.reply({ body: searchBody([...mine].reverse()) });
    const found = await store.getLogs(TENANT, [ids[3]!, 'missing', ids[0]!, ids[3]!]);
    assert.deepEqual(found.map((l) => l && withoutId(l)), [written[3], null, written[0], written[3]]);
    assert.deepEqual(json(server.requests.at(-1)!), {
      query: { bool: { filter: [TENANT_TERM, { ids: { values: [ids[3], 'missing', ids[0]] } }] } },
      size: 3,
      track_total_hits: false,
    });
    assert.equal(server.requests.at(-1)!.path, '/logs-teleql-*/_search');
    await store.close();
  });

  it('rebuilds a record from its indexed fields when its teleql.record is unreadable', async () => {
    const store = openStore();
    const source = hits[7]!._source as { teleql: { record: string } };
    const broken = { ...hits[7]!, _source: { ...source, teleql: { ...source.teleql, record: '{"resource":' } } };
    server.reply({ body: searchBody([broken]) });
    const [found] = await store.getLogs(TENANT, [broken._id]);
    await store.close();
    const original = written[7]!;
    assert.deepEqual(found, {
      id: broken._id,
      tenant: TENANT,
      resource: { attributes: attrs({ 'service.name': 'lossless' }), droppedAttributesCount: 0, schemaUrl: 'https://schema' },
      scope: { name: 'log-lib', version: '0.1', attributes: [], droppedAttributesCount: 0, schemaUrl: '' },
      timeUnixNano: original.timeUnixNano,
      observedTimeUnixNano: original.observedTimeUnixNano,
      severityNumber: 21,
      severityText: 'FATAL',
      body: original.body,
      attributes: [
        { key: 'i', value: { intValue: '7' } },
        { key: 'list', value: { stringValue: '[1.5]' } },
        { key: 'nan', value: { stringValue: 'NaN' } },
        { key: 'negZero', value: { intValue: '0' } },
        { key: 'big', value: { stringValue: '12345678901234567890' } },
      ],
      droppedAttributesCount: 0,
      flags: 0,
      traceId: original.traceId,
      spanId: original.spanId,
      eventName: 'evt',
    });
  });

  it('writes body.structured as proto3 JSON does: NaN, ±Infinity and -0 doubles as strings, not null and 0; and reads it back exactly', async () => {
    const structured = hits.map((h) => (h._source as { body?: { structured?: unknown } }).body?.structured).slice(9, 15);
    assert.deepEqual(structured, [
      { doubleValue: 'NaN' },
      { doubleValue: '-Infinity' },
      { doubleValue: '-0' },
      { doubleValue: 2 },
      { intValue: '2' },
      { arrayValue: { values: [{ doubleValue: 'Infinity' }, { doubleValue: '-0' }] } },
    ]);
    // A document whose teleql.record is unreadable is rebuilt from body.structured, with the same body.
    const store = openStore();
    const broken = hits.slice(9, 15).map((h) => {
      const source = h._source as { teleql: { record: string } };
      return { ...h, _source: { ...source, teleql: { ...source.teleql, record: '{"resource":' } } };
    });
    server.reply({ body: searchBody(broken) });
    const found = await store.getLogs(TENANT, broken.map((h) => h._id));
    await store.close();
    assert.deepEqual(found.map((l) => l?.body), written.slice(9, 15).map((l) => l.body));
  });

  it('the ns timestamps survive the ISO form both ways', () => {
    for (const ns of [0n, 1n, T0 + 123_456_789n, 4_098_435_132_000_000_001n, 9_223_372_036_854_775_807n]) assert.equal(isoToNs(nsToIso(ns)), ns);
    assert.equal(nsToIso(T0 + 7n), '2023-11-14T22:13:20.000000007Z');
    // Within one second and across its edge (the date part of the last second is reused).
    assert.equal(nsToIso(T0 + 999_999_999n), '2023-11-14T22:13:20.999999999Z');
    assert.equal(nsToIso(T0 + 1_000_000_000n), '2023-11-14T22:13:21.000000000Z');
    assert.equal(nsToIso(T0 - 1n), '2023-11-14T22:13:19.999999999Z');
    assert.equal(nsToIso(-5n), '1970-01-01T00:00:00.000000000Z');
  });

  it('teleql.record is the record as JSON.stringify writes it with the replacer, byte for byte (document IDs hash it)', () => {
    // The encoding before session 24, which built the whole text with one JSON.stringify.
    const replacer = (_k: string, v: unknown) =>
      typeof v === 'bigint' ? v.toString() : typeof v === 'number' && (!Number.isFinite(v) || Object.is(v, -0)) ? (Object.is(v, -0) ? '-0' : String(v)) : v;
    const reference = (l: LogRecord) =>
      JSON.stringify(
        {
          resource: l.resource, scope: l.scope, timeUnixNano: l.timeUnixNano, observedTimeUnixNano: l.observedTimeUnixNano, severityNumber: l.severityNumber,
          severityText: l.severityText, body: l.body, attributes: l.attributes, droppedAttributesCount: l.droppedAttributesCount, flags: l.flags,
          traceId: l.traceId, spanId: l.spanId, eventName: l.eventName,
        },
        replacer,
      );
    const shared = resource('svc', { 'host.cpu': { doubleValue: Number.NaN }, zero: { doubleValue: -0 }, 'a"quote': 'x\ny' });
    const records = [
      log({ tenant: TENANT, resource: shared }),
      log({ tenant: TENANT, resource: shared, scope: scope('s', '2'), body: { kvlistValue: { values: [{ key: 'inf', value: { doubleValue: Number.POSITIVE_INFINITY } }] } }, traceId: traceId(3), spanId: spanId(4), eventName: 'e' }),
      log({ tenant: TENANT, resource: resource('other'), attributes: attrs({ n: 7n, d: -0.5, b: true, s: 'é' }), timeUnixNano: 0n, observedTimeUnixNano: 9_223_372_036_854_775_807n }),
    ];
    for (const l of records) assert.equal(encodeRecord(l), reference(l));
    // The same ID as before for the same record.
    assert.equal(recordId(TENANT, encodeRecord(records[2]!), 0), recordId(TENANT, reference(records[2]!), 0));
  });

  it('groups logs of many spans from one collapsed search back in key order', async () => {
    const store = openStore();
    const t = traceId(0x777);
    // One group per span_id, each with its inner hits (the earliest logs first).
    const groups = hits.slice(0, 3).map((h) => ({
      ...h,
      fields: { span_id: [(h._source as { span_id: string }).span_id] },
      inner_hits: { logs: { hits: { total: { value: 1, relation: 'eq' }, max_score: null, hits: [h] } } },
    }));
    server.reply({ body: searchBody(groups) });
    const refs = [{ traceId: t, spanId: spanId(0x779) }, { traceId: t, spanId: spanId(0x999) }, { traceId: t.toUpperCase(), spanId: spanId(0x778) }];
    const result = await store.logsForSpans(TENANT, refs, 2);
    await store.close();
    assert.deepEqual(result.map((logs) => logs.map(withoutId)), [[written[1]], [], [written[0]]]);
    const [req] = server.requests.slice(-1);
    assert.equal(req!.path, '/logs-teleql-*/_search');
    assert.deepEqual(json(req!), {
      query: { bool: { filter: [TENANT_TERM, { terms: { trace_id: [t] } }, { terms: { span_id: [spanId(0x779), spanId(0x999), spanId(0x778)] } }] } },
      collapse: { field: 'span_id', inner_hits: { name: 'logs', size: 2, sort: LOG_SORT('asc'), _source: true } },
      sort: LOG_SORT('asc'),
      size: 3,
      _source: false,
      track_total_hits: false,
    });
  });

  it('a span ID asked for under several traces is read trace by trace (one collapsed group would hold only the earliest trace\'s logs)', async () => {
    // Jaeger's own fixtures reuse span IDs across traces; Span.logs of the later traces came back empty.
    const store = openStore();
    const [tA, tB] = [traceId(0xa), traceId(0xb)];
    const [shared, own] = [spanId(0x3), spanId(0x4)];
    const source = hits[0]!._source as Record<string, unknown>;
    const hitOf = (trace: string, span: string) => {
      // Without teleql.record, the record is rebuilt from the indexed fields, these IDs included.
      const h = { ...hits[0]!, _source: { ...source, teleql: { ...(source['teleql'] as object), record: undefined }, trace_id: trace, span_id: span } };
      return { ...h, inner_hits: { logs: { hits: { max_score: null, hits: [h] } } } };
    };
    server.reply({ body: searchBody([hitOf(tA, own)]) }, { body: searchBody([hitOf(tA, shared)]) }, { body: searchBody([hitOf(tB, shared)]) });
    const result = await store.logsForSpans(TENANT, [{ traceId: tA, spanId: shared }, { traceId: tB, spanId: shared }, { traceId: tA, spanId: own }], 2);
    await store.close();
    assert.deepEqual(result.map((logs) => logs.map((l) => `${l.traceId}/${l.spanId}`)), [[`${tA}/${shared}`], [`${tB}/${shared}`], [`${tA}/${own}`]]);
    const filters = server.requests.slice(-3).map((r) => (json(r) as { query: { bool: { filter: unknown[] } } }).query.bool.filter.slice(1));
    assert.deepEqual(filters, [
      [{ terms: { trace_id: [tA] } }, { terms: { span_id: [own] } }],
      [{ terms: { trace_id: [tA] } }, { terms: { span_id: [shared] } }],
      [{ terms: { trace_id: [tB] } }, { terms: { span_id: [shared] } }],
    ]);
  });

  it('spans of several traces are asked for trace by trace in one search, so another trace\'s span of the same ID cannot fill a group', async () => {
    // With trace_id IN (…) AND span_id IN (…), T2's own span `a` (not asked for) shared T1/a's group.
    const store = openStore();
    const [t1, t2] = [traceId(0x21), traceId(0x22)];
    server.reply({ body: searchBody([]) });
    await store.logsForSpans(TENANT, [{ traceId: t1, spanId: spanId(0xa) }, { traceId: t2, spanId: spanId(0xb) }, { traceId: t1, spanId: spanId(0xc) }], 2);
    await store.close();
    const body = json(server.requests.at(-1)!) as { query: { bool: { filter: unknown[] } }; size: number };
    assert.deepEqual(body.query.bool.filter.slice(1), [
      {
        bool: {
          should: [
            { bool: { filter: [{ terms: { trace_id: [t1] } }, { terms: { span_id: [spanId(0xa), spanId(0xc)] } }] } },
            { bool: { filter: [{ terms: { trace_id: [t2] } }, { terms: { span_id: [spanId(0xb)] } }] } },
          ],
          minimum_should_match: 1,
        },
      },
    ]);
    assert.equal(body.size, 3);
  });

  it('an answer from only some shards or clusters (or one that timed out) is an error, not a short page or a missing log', async () => {
    // Elasticsearch answers 200 with what the shards it reached held; it came back as a complete answer.
    const partial = { ...searchBody(hits.slice(0, 1)), _shards: { total: 3, successful: 1, skipped: 0, failed: 2, failures: [{ shard: 1, index: 'logs', reason: { type: 'node_not_connected_exception', reason: '[node-2] not connected' } }] } };
    const timedOut = { ...searchBody(hits.slice(0, 1)), timed_out: true };
    // A cross-cluster search whose remote (skip_unavailable, the default since 8.15) could not be
    // reached: 200, _shards counting the local cluster only (all successful), the remote `skipped`
    // (ClusterStatistics in the Elasticsearch specification).
    const skipped = {
      ...searchBody(hits.slice(0, 1)),
      _clusters: {
        total: 2, successful: 1, skipped: 1, running: 0, partial: 0, failed: 0,
        details: {
          '(local)': { status: 'successful', indices: 'logs-teleql-*', took: 3, timed_out: false, _shards: { total: 1, successful: 1, skipped: 0, failed: 0 } },
          'eu-west': { status: 'skipped', indices: 'logs-teleql-*', timed_out: false, failures: [{ shard: -1, index: null, reason: { type: 'connect_transport_exception', reason: '[10.0.3.7:9300] connect_exception' } }] },
        },
      },
    };
    const calls: [string, (store: ReturnType<typeof openStore>) => Promise<unknown>, number][] = [
      ['the log search', (store) => store.searchLogs(TENANT, {}, { first: 10 }), 1],
      ['the logs of spans', (store) => store.logsForSpans(TENANT, [{ traceId: traceId(1), spanId: spanId(1) }], 2), 0],
      ['the logs of traces', (store) => store.logsForTraces(TENANT, [traceId(1)], 2), 0],
      ['the log lookup by ID', (store) => store.getLogs(TENANT, [ids[0]!]), 0],
    ];
    for (const body of [partial, timedOut, skipped]) {
      for (const [what, call, pits] of calls) {
        const store = openStore();
        server.reply(...(pits ? [{ file: 'open-pit.200.json' }] : []), { body }, ...(pits ? [{ file: 'close-pit.200.json' }] : []));
        await assert.rejects(call(store), (err: StoreError) => {
          assert.equal(err.code, 'UNAVAILABLE');
          assert.equal(
            err.message,
            body === partial
              ? `Elasticsearch answered ${what} from 1 of 3 shards only (the reason is in the gateway log); an incomplete answer is not given`
              : body === timedOut
                ? `The search timed out in Elasticsearch, which answered ${what} with what it had found by then; an incomplete answer is not given`
                : `Elasticsearch answered ${what} without 1 of 2 clusters (skipped or incomplete) (the reason is in the gateway log); an incomplete answer is not given`,
          );
          assert.doesNotMatch(err.message, /node-2|eu-west|10\.0\./, 'no node, cluster or address');
          return true;
        });
        await store.close();
      }
    }
  });

  it('groups logs of many traces from one collapsed search, with the limit per trace', async () => {
    const store = openStore();
    const t = traceId(0x777);
    const group = { ...hits[0]!, inner_hits: { logs: { hits: { max_score: null, hits: hits.slice(0, 2) } } } };
    server.reply({ body: searchBody([group]) });
    const result = await store.logsForTraces(TENANT, [traceId(0x999), t], 2);
    await store.close();
    assert.deepEqual(result.map((logs) => logs.map(withoutId)), [[], [written[0], written[1]]]);
    const body = json(server.requests.at(-1)!) as { collapse: unknown; size: number };
    assert.deepEqual(body.collapse, { field: 'trace_id', inner_hits: { name: 'logs', size: 2, sort: LOG_SORT('asc'), _source: true } });
    assert.equal(body.size, 2);
  });
});
