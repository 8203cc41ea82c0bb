// The Elasticsearch exporter against a local server answering with real Elasticsearch 8 documents
// (/work/shared/fixtures/elasticsearch) and the headers a real server sends (the official client
// refuses an answer without `x-elastic-product: Elasticsearch`). Asserts the exact bulk requests.
import { after, afterEach, before, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { closedPort, startFixtureServer, type FixtureRoute, type FixtureServer, type RecordedRequest } from '../helpers/fixture-server.ts';
import { startGateway, testConfig } from '../helpers/gateway.ts';
import { gqlData } from '../helpers/graphql-client.ts';
import { waitFor } from '../helpers/wait-for.ts';
import { sendLogs } from '../helpers/otel-sdk.ts';
import { elasticsearchExporterFactory, bulkResult } from '../../ingest/exporters/elasticsearch/factory.ts';
import type { QueuedExporter } from '../../ingest/exporters/helpers/index.ts';
import { silentLogger } from '../../src/logger.ts';
import { defaultConfig } from '../../src/config/defaults.ts';
import { mergeConfig, SettingError } from '../../src/config/merge.ts';
import { buildApp } from '../../src/app.ts';
import { log, T0, SEC } from '../helpers/telemetry-builders.ts';
import { capturingLogger } from '../helpers/capturing-logger.ts';

const FIXTURES = '/work/shared/fixtures/elasticsearch';
const ES_HEADERS = { 'content-type': 'application/vnd.elasticsearch+json;compatible-with=8', 'x-elastic-product': 'Elasticsearch' };
const NDJSON_CT = 'application/vnd.elasticsearch+x-ndjson; compatible-with=8';

function templateRoute(): FixtureRoute {
  return { method: 'PUT', path: '/_index_template/teleql-logs', headers: ES_HEADERS, body: '{"acknowledged":true}' };
}

/** A pino logger whose lines land in an array. */
function bulkRequests(server: FixtureServer): RecordedRequest[] {
  return server.requests.filter((r) => r.path === '/_bulk');
}

function lines(r: RecordedRequest): string[] {
  const text = r.body.toString('utf8');
  assert.ok(text.endsWith('\n'), 'NDJSON ends in a newline');
  return text.slice(0, -1).split('\n');
}

let spillDir: string;
beforeEach(async () => {
  spillDir = await mkdtemp(join(tmpdir(), 'teleql-es-spill-'));
});
afterEach(async () => {
  await rm(spillDir, { recursive: true, force: true });
});

describe('elasticsearch exporter', () => {
  let es: FixtureServer;
  before(async () => {
    es = await startFixtureServer();
  });
  after(async () => {
    await es?.close();
  });

  function exporter(extra: Record<string, unknown> = {}, logger = silentLogger()): QueuedExporter<'logs'> {
    const factory = elasticsearchExporterFactory({ ...defaultConfig().storage.elasticsearch, node: es.url });
    const config = mergeConfig(factory.createDefaultConfig(), {
      batch: { maxItems: 100, flushIntervalMs: 5 },
      retry: { initialIntervalMs: 5, maxIntervalMs: 20 },
      spill: { directory: spillDir },
      auth: { apiKey: 'c2VjcmV0OmtleQ==' },
      ...extra,
    }, 'exporters.elasticsearch');
    return factory.create({ id: 'elasticsearch/logs', logger }, config, 'logs') as QueuedExporter<'logs'>;
  }

  test('maxRequestBytes: 10 MiB by default; under 64 KiB is refused, naming the setting', () => {
    const factory = elasticsearchExporterFactory({ ...defaultConfig().storage.elasticsearch, node: es.url });
    assert.equal(factory.createDefaultConfig().maxRequestBytes, 10 * 1024 * 1024);
    assert.throws(() => exporter({ maxRequestBytes: 1_000 }), /maxRequestBytes: expected an integer of at least 65536 \(actual: 1000\)/);
  });

  test('a mixed bulk answer: the 429 items alone are resent with their IDs, the 400s counted as failed', async () => {
    es.clearRequests();
    let bulks = 0;
    es.setRoutes([
      templateRoute(),
      {
        method: 'POST',
        path: '/_bulk',
        headers: ES_HEADERS,
        // The real mixed answer first (1 created, 2 refused for good, 2 throttled), then all created.
        respond: () => (++bulks === 1 ? { bodyFile: join(FIXTURES, 'bulk.200.errors-mixed-datastream.json') } : { body: '{"errors":false}' }),
      },
    ]);
    const { logger, lines: logged } = capturingLogger();
    const ex = exporter({}, logger);
    await ex.start({ logger: silentLogger(), reportError: () => {} });
    const records = ['GET /search 200', 'bad type', 'rejected', 'blocked', 'wrong op'].map((text, i) =>
      log({ tenant: 'acme', timeUnixNano: T0 + BigInt(i) * SEC, body: { stringValue: text } }));
    await ex.consume(records);
    await waitFor(async () => ex.stats(), (s) => s.sent === 3 && s.failed === 2, 'written and failed counted');
    await ex.shutdown();
    // backends { lastError } names the backend, the call, the count and the error types, never ES's
    // per-document reasons: they quote the document (its ID, the field, "Preview of field's value:
    // 'WARN'"). The component log has them.
    const lastError = ex.backendStatus().lastError ?? '';
    assert.equal(lastError, 'Elasticsearch refused 2 of 5 log records in _bulk: document_parsing_exception ×1, illegal_argument_exception ×1 (the reasons are in the gateway log)');
    for (const quoted of ['WARN', 'Preview', 'XEtpsmIBdwcYyG50zbta', 'severity_number', 'op_type']) assert.ok(!lastError.includes(quoted), `"${quoted}" in ${lastError}`);
    const rejected = logged.find((l) => l.msg === 'elasticsearch rejected 2 of 5 log records');
    assert.equal(rejected?.call, '_bulk');
    assert.match(String(rejected?.detail), /document_parsing_exception ×1: .*Preview of field's value: 'WARN'/);

    const template = es.requests.find((r) => r.method === 'PUT');
    assert.ok(template, 'the index template was installed first');
    assert.equal(template.headers.authorization, 'ApiKey c2VjcmV0OmtleQ==');
    const [first, second, ...more] = bulkRequests(es);
    assert.equal(more.length, 0);
    assert.equal(first!.method, 'POST');
    assert.equal(first!.headers['content-type'], NDJSON_CT);
    assert.equal(first!.headers.authorization, 'ApiKey c2VjcmV0OmtleQ==');
    const l1 = lines(first!);
    assert.equal(l1.length, 10);
    const actions = l1.filter((_, i) => i % 2 === 0).map((a) => JSON.parse(a) as { create: { _index: string; _id: string } });
    assert.ok(actions.every((a) => a.create._index === 'logs-teleql-default'));
    const docs = l1.filter((_, i) => i % 2 === 1).map((d) => JSON.parse(d) as Record<string, unknown>);
    assert.deepEqual(docs.map((d) => (d.body as { text: string }).text), ['GET /search 200', 'bad type', 'rejected', 'blocked', 'wrong op']);
    assert.deepEqual(docs.map((d) => d['@timestamp']), [0, 1, 2, 3, 4].map((i) => `2023-11-14T22:13:2${i}.000000000Z`));
    assert.equal((docs[0]!.teleql as { tenant: string }).tenant, 'acme');
    // The resend is exactly the throttled pairs of the first request, byte for byte, same IDs.
    assert.equal(second!.body.toString('utf8'), `${l1.slice(4, 8).join('\n')}\n`);
    const st = ex.backendStatus();
    assert.equal(st.itemsWritten, 3);
    assert.equal(st.itemsFailed, 2);
    assert.equal(st.retries, 1);
    assert.equal(st.endpoint, es.url);
  });

  test('a whole bulk refused with 429 and Retry-After is retried; 401 is not', async () => {
    es.clearRequests();
    let bulks = 0;
    es.setRoutes([
      templateRoute(),
      {
        method: 'POST',
        path: '/_bulk',
        respond: () =>
          ++bulks === 1
            ? { status: 429, headers: { ...ES_HEADERS, 'retry-after': '0' }, bodyFile: join(FIXTURES, 'error.429.es-rejected-execution.json') }
            : bulks === 2
              ? { status: 200, headers: ES_HEADERS, body: '{"errors":false}' }
              : { status: 401, headers: ES_HEADERS, bodyFile: join(FIXTURES, 'error.401.security-missing-credentials.json') },
      },
    ]);
    const ex = exporter({ installTemplate: false });
    await ex.start({ logger: silentLogger(), reportError: () => {} });
    await ex.consume([log({ body: { stringValue: 'one' } }), log({ body: { stringValue: 'two' } })]);
    await waitFor(async () => ex.stats().sent, (n) => n === 2, 'written after the 429');
    const [a, b] = bulkRequests(es);
    assert.equal(a!.body.toString('utf8'), b!.body.toString('utf8'), 'the same request again');
    await ex.consume([log({ body: { stringValue: 'three' } })]);
    await waitFor(async () => ex.stats().failed, (n) => n === 1, 'the 401 counted as failed');
    assert.equal(bulkRequests(es).length, 3, 'a 401 is not retried');
    assert.equal(es.requests.filter((r) => r.method === 'PUT').length, 0);
    assert.equal(ex.stats().lastError, 'Elasticsearch refused the credentials (HTTP 401 security_exception); check the configured username/password, API key or bearer token');
    await ex.shutdown();
  });

  test('bulkResult maps every BulkOutcome shape', () => {
    const rs = [log(), log()];
    assert.deepEqual(bulkResult(rs, { written: 2, duplicates: 0, retry: [], retryIds: [], failed: [] }), { kind: 'success' });
    assert.equal(bulkResult(rs, { written: 0, duplicates: 0, retry: rs, retryIds: ['a', 'b'], failed: [], error: 'down', retryAfterMs: 5 }).kind, 'retryable');
    assert.equal(bulkResult(rs, { written: 0, duplicates: 0, retry: [], retryIds: [], failed: [{ type: 't', reason: 'r', count: 2 }] }).kind, 'failure');
    const p = bulkResult(rs, { written: 1, duplicates: 0, retry: [rs[1]!], retryIds: ['b'], failed: [] });
    assert.equal(p.kind, 'partial');
    assert.equal(p.kind === 'partial' && p.error.message, 'Elasticsearch asked to resend 1 of 2 log records in _bulk');
    assert.equal(p.kind === 'partial' && p.backendDown, undefined, 'items throttled one by one: the backend is up');
    // A split batch that stopped at a request refused whole: written in part, yet the backend is shedding load.
    const stopped = bulkResult(rs, { written: 1, duplicates: 0, retry: [rs[1]!], retryIds: ['b'], failed: [], error: 'HTTP 429', stopped: true });
    assert.equal(stopped.kind === 'partial' && stopped.backendDown, true);
    // Only what reads as an Elasticsearch error type is shown; the reason never is.
    const odd = bulkResult(rs, { written: 0, duplicates: 0, retry: [], retryIds: [], failed: [{ type: "value 'alice@example.com'", reason: 'alice@example.com', count: 2 }] });
    assert.equal(odd.kind === 'failure' && odd.error.message, 'Elasticsearch refused 2 of 2 log records in _bulk: unknown_error ×2 (the reasons are in the gateway log)');
  });

  test('two identical records, the second throttled per item: its resends, through the spill and after a restart, keep its own document ID (QA round 32 D1)', async () => {
    es.clearRequests();
    let bulks = 0;
    let down = true;
    es.setRoutes([
      templateRoute(),
      {
        method: 'POST',
        path: '/_bulk',
        headers: ES_HEADERS,
        respond: () => {
          if (++bulks === 1) {
            const throttled = { status: 429, error: { type: 'es_rejected_execution_exception', reason: 'rejected execution of primary operation' } };
            return { body: JSON.stringify({ errors: true, items: [{ create: { status: 201 } }, { create: throttled }] }) };
          }
          // Then the whole request fails until the restart: the resend waits in the spill.
          return down ? { status: 429, bodyFile: join(FIXTURES, 'error.429.es-rejected-execution.json') } : { body: '{"errors":false}' };
        },
      },
    ]);
    const twin = () => log({ tenant: 'acme', timeUnixNano: T0, body: { stringValue: 'DUPLINE same line twice' } });
    const first = exporter();
    await first.start({ logger: silentLogger(), reportError: () => {} });
    await first.consume([twin(), twin()]);
    await waitFor(async () => bulks, (n) => n >= 3, 'the throttled record resent (and refused) from the spill');
    await first.shutdown();
    assert.equal(first.stats().sent, 1);
    down = false;
    const second = exporter();
    await second.start({ logger: silentLogger(), reportError: () => {} });
    await waitFor(async () => second.stats().sent, (n) => n === 1, 'the spilled record written after the restart');
    await second.shutdown();

    const ids = bulkRequests(es).map((r) => lines(r).filter((_, i) => i % 2 === 0).map((a) => (JSON.parse(a) as { create: { _id: string } }).create._id));
    const [[copy1, copy2], ...resends] = ids as [[string, string], ...string[][]];
    assert.notEqual(copy1, copy2, 'identical records get distinct IDs');
    assert.ok(resends.length >= 2);
    for (const r of resends) assert.deepEqual(r, [copy2], 'each resend carries the throttled copy\'s own ID, never its twin\'s');
  });

  test('start does not wait on Elasticsearch: the index template goes in in the background, retried, its trouble in the backend status, and no bulk goes out before it (QA round 32 D2)', async () => {
    es.clearRequests();
    let puts = 0;
    let templateOk = false;
    const refused = { status: 429, bodyFile: join(FIXTURES, 'error.429.es-rejected-execution.json') };
    es.setRoutes([
      {
        method: 'PUT',
        path: '/_index_template/teleql-logs',
        headers: ES_HEADERS,
        // The first answer comes late (an Elasticsearch that is slow to answer): start must not wait for it.
        respond: () => (++puts === 1 ? { ...refused, delayMs: 1_500 } : templateOk ? { body: '{"acknowledged":true}' } : refused),
      },
      { method: 'POST', path: '/_bulk', headers: ES_HEADERS, body: '{"errors":false}' },
    ]);
    const ex = exporter({ timeoutMs: 300 });
    await ex.start({ logger: silentLogger(), reportError: () => {} });
    const templateRequests = () => es.requests.filter((r) => r.method === 'PUT');
    assert.ok(templateRequests().every((r) => r.sentBytes === 0), 'start returned before Elasticsearch answered the template request');
    await ex.consume([log({ body: { stringValue: 'waits for the template' } })]);
    const failing = await waitFor(async () => ex.backendStatus(), (s) => /the index template is not installed/.test(s.lastError ?? ''), 'the template failure in the backend status');
    assert.equal(failing.healthy, false);
    assert.equal(bulkRequests(es).length, 0, 'no bulk before the template is in');
    templateOk = true;
    await waitFor(async () => ex.backendStatus(), (s) => s.itemsWritten === 1 && s.healthy, 'written once the template is in');
    const order = es.requests.map((r) => r.method);
    assert.ok(order.lastIndexOf('PUT') < order.indexOf('POST'), 'the bulk came after the template went in');
    await ex.shutdown();
  });

  test('a gateway with logs → [duckdb, elasticsearch] writes what the SDK sends and reports it in backends', async () => {
    es.clearRequests();
    es.setRoutes([templateRoute(), { method: 'POST', path: '/_bulk', headers: ES_HEADERS, body: '{"errors":false}' }]);
    const gw = await startGateway({
      storage: { elasticsearch: { node: es.url } },
      exporters: { duckdb: {}, elasticsearch: { batch: { flushIntervalMs: 10 }, spill: { directory: spillDir } } },
      pipelines: { logs: { receivers: ['otlp'], processors: ['batch'], exporters: ['duckdb', 'elasticsearch'] } },
    });
    try {
      await sendLogs('grpc', gw, { service: 'payments' });
      const bs = await waitFor(
        () => gqlData<{ backends: { id: string; kind: string; itemsWritten: number; healthy: boolean; roles: string[] }[] }>(gw.graphqlUrl, '{ backends(kind: "elasticsearch") { id kind itemsWritten healthy roles } }'),
        (d) => (d.backends[0]?.itemsWritten ?? 0) >= 3,
        'three log records written',
      );
      assert.deepEqual(bs.backends, [{ id: 'elasticsearch/logs', kind: 'elasticsearch', itemsWritten: 3, healthy: true, roles: ['WRITE'] }]);
      const docs = bulkRequests(es).flatMap((r) => lines(r).filter((_, i) => i % 2 === 1).map((d) => JSON.parse(d) as Record<string, unknown>));
      assert.equal(docs.length, 3);
      const error = docs.find((d) => d.severity_text === 'ERROR')!;
      assert.deepEqual(error.body, { text: 'payment failed for order 42' });
      assert.deepEqual(error.resource, { attributes: { 'service.name': 'payments' } });
      assert.equal(error.event_name, 'payment.failed');
    } finally {
      await gw.stop();
    }
  });
});

describe('elasticsearch exporter: dataStream, templatePattern and storage.elasticsearch.index are checked against each other at start (QA D3)', () => {
  let node: string;
  before(async () => {
    node = `http://127.0.0.1:${await closedPort()}`;
  });

  function create(extra: Record<string, unknown>, read?: { index: string }, logger = silentLogger()): QueuedExporter<'logs'> {
    const factory = elasticsearchExporterFactory({ ...defaultConfig().storage.elasticsearch, node }, read);
    const config = mergeConfig(factory.createDefaultConfig(), { spill: { enabled: false }, ...extra }, 'exporters.elasticsearch');
    return factory.create({ id: 'elasticsearch', logger }, config, 'logs') as QueuedExporter<'logs'>;
  }
  const logsTo = (exporter: Record<string, unknown>, storage: Record<string, unknown> = {}) =>
    testConfig({
      exporters: { duckdb: {}, elasticsearch: { node, spill: { enabled: false }, ...exporter } },
      pipelines: { logs: { receivers: ['otlp'], processors: ['batch'], exporters: ['duckdb', 'elasticsearch'] } },
      storage: { elasticsearch: { node }, ...storage },
    });

  test('a dataStream its templatePattern does not match is refused, naming both settings, unless teleql does not install the template', async () => {
    assert.throws(
      () => create({ dataStream: 'logs-myapp-prod' }),
      (e: unknown) => {
        assert.ok(e instanceof SettingError);
        assert.equal(e.key, 'templatePattern');
        assert.match(e.problem, /^'logs-teleql-\*' does not match this exporter's dataStream 'logs-myapp-prod', so the index template teleql installs would not apply to it/);
        assert.match(e.problem, /set templatePattern to a pattern matching the data stream \(e\.g\. 'logs-myapp-\*'\), or installTemplate: false/);
        return true;
      },
    );
    await create({ dataStream: 'logs-myapp-prod', templatePattern: 'logs-myapp-*' }).shutdown();
    await create({ dataStream: 'logs-myapp-prod', installTemplate: false }).shutdown();
  });

  test('the gateway does not start with such an exporter, and says which setting is wrong', async () => {
    const app = buildApp(logsTo({ dataStream: 'logs-myapp-prod' }), { logger: silentLogger() });
    try {
      await assert.rejects(app.start(), /exporters\.elasticsearch\.templatePattern: 'logs-teleql-\*' does not match this exporter's dataStream 'logs-myapp-prod'/);
    } finally {
      await app.stop();
    }
  });

  test('logs read from an index that does not cover the data stream written: a warning at start naming both settings, not a refusal', async () => {
    const { logger, lines: logged } = capturingLogger();
    const app = buildApp(logsTo({ dataStream: 'logs-myapp-prod', templatePattern: 'logs-myapp-*' }, { read: { logs: 'elasticsearch' } }), { logger });
    try {
      await app.start();
    } finally {
      await app.stop();
    }
    const warned = logged.filter((l) => String(l.msg).startsWith('storage.elasticsearch.index'));
    assert.equal(warned.length, 1);
    assert.equal(warned[0]!.level, 40);
    assert.equal(
      warned[0]!.msg,
      "storage.elasticsearch.index 'logs-teleql-*' does not cover this exporter's dataStream 'logs-myapp-prod': log queries will not see the logs it writes " +
        "(an index that does not exist reads as no logs) unless 'logs-teleql-*' is an alias of that data stream; set storage.elasticsearch.index to the data stream or a pattern matching it",
    );
    assert.deepEqual([warned[0]!.readIndex, warned[0]!.dataStream], ['logs-teleql-*', 'logs-myapp-prod']);
  });

  test('no warning when the read index covers the data stream, or logs are not read from Elasticsearch', async () => {
    for (const [index, read] of [['logs-*', { index: 'logs-*' }], ['(not read)', undefined]] as const) {
      const { logger, lines: logged } = capturingLogger();
      await create({ dataStream: 'logs-myapp-prod', templatePattern: 'logs-myapp-*' }, read, logger).shutdown();
      assert.deepEqual(logged.filter((l) => l.level === 40), [], index);
    }
  });
});
