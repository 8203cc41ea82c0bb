// The remote-write sender against a local HTTP server that answers as Prometheus' receiver does
// (the answers' texts are Prometheus 2.42's), asserting exactly what teleql sends.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { classifyResponse, createRemoteWriteSender, defaultRemoteWriteConfig, type RemoteWriteConfig } from '../../../ingest/exporters/prometheus/sender.ts';
import { decodeWriteRequest } from '../../../ingest/exporters/prometheus/wire.ts';
import { silentLogger } from '../../../src/logger.ts';
import { closedPort, startFixtureServer, type FixtureServer, type RecordedRequest } from '../../helpers/fixture-server.ts';
import { attrs, metricPoint, numberPoint, T0, SEC } from '../../helpers/telemetry-builders.ts';

const names = (req: RecordedRequest): string[] =>
  decodeWriteRequest(req.body).timeseries.map((s) => s.labels.find((l) => l.name === '__name__')!.value + JSON.stringify(s.labels.filter((l) => l.name === 'k').map((l) => l.value)));

describe('remote-write sender', () => {
  let server: FixtureServer;
  before(async () => {
    server = await startFixtureServer();
  });
  after(() => server.close());

  const sender = (over: Partial<RemoteWriteConfig> = {}) => createRemoteWriteSender({ ...defaultRemoteWriteConfig(), endpoint: `${server.url}/api/v1/write`, ...over }, silentLogger());

  test('posts a snappy WriteRequest with the remote-write headers, auth and tenant header', async () => {
    server.setRoutes([{ method: 'POST', path: '/api/v1/write', status: 204 }]);
    server.clearRequests();
    const s = sender({ username: 'u', password: 'p', tenantHeader: 'X-Scope-OrgID', headers: { 'x-extra': '1' } });
    const r = await s.send([metricPoint(numberPoint({ asDouble: 2 }), {}, { tenant: 'acme' })]);
    s.close();
    assert.deepEqual(r, { kind: 'success' });
    const [req] = server.requests;
    assert.equal(req!.headers['content-encoding'], 'snappy');
    assert.equal(req!.headers['content-type'], 'application/x-protobuf');
    assert.equal(req!.headers['x-prometheus-remote-write-version'], '0.1.0');
    assert.equal(req!.headers.authorization, `Basic ${Buffer.from('u:p').toString('base64')}`);
    assert.equal(req!.headers['x-scope-orgid'], 'acme');
    assert.equal(req!.headers['x-extra'], '1');
    const series = decodeWriteRequest(req!.body).timeseries;
    assert.deepEqual(series.find((x) => x.labels.some((l) => l.value === 'http_server_requests_total'))!.samples, [{ value: 2, timestamp: Number(T0 / 1_000_000n) }]);
  });

  test('a bearer token is sent when no user is set; each tenant gets its own request', async () => {
    server.setRoutes([{ path: '/api/v1/write', status: 200 }]);
    server.clearRequests();
    const s = sender({ bearer: 'tok', tenantHeader: 'X-Scope-OrgID' });
    await s.send([metricPoint(numberPoint(), {}, { tenant: 'a' }), metricPoint(numberPoint(), {}, { tenant: 'b' })]);
    s.close();
    assert.deepEqual(server.requests.map((r) => [r.headers.authorization, r.headers['x-scope-orgid']]), [['Bearer tok', 'a'], ['Bearer tok', 'b']]);
  });

  test('429 and 5xx are retryable (Retry-After honoured); other 4xx are permanent with the server message', async () => {
    server.setRoutes([{ path: '/api/v1/write', status: 429, headers: { 'retry-after': '7' }, body: 'too many requests\n' }]);
    const s = sender();
    const limited = await s.send([metricPoint()]);
    assert.equal(limited.kind, 'retryable');
    assert.equal(limited.kind === 'retryable' && limited.retryAfterMs, 7000);

    server.setRoutes([{ path: '/api/v1/write', status: 500, body: 'TSDB is closing\n' }]);
    const broken = await s.send([metricPoint()]);
    assert.equal(broken.kind, 'retryable');

    server.setRoutes([{ path: '/api/v1/write', status: 401, body: 'Unauthorized\n' }]);
    const refused = await s.send([metricPoint()]);
    assert.equal(refused.kind, 'failure');
    assert.match(refused.kind === 'failure' ? refused.error.message : '', /answered 401: Unauthorized/);
    s.close();
  });

  test('a refused connection is retryable', async () => {
    const s = createRemoteWriteSender({ ...defaultRemoteWriteConfig(), endpoint: `http://127.0.0.1:${await closedPort()}/api/v1/write` }, silentLogger());
    const r = await s.send([metricPoint()]);
    s.close();
    assert.equal(r.kind, 'retryable');
  });

  test('an out-of-order refusal is split until only the refused series is left out', async () => {
    // Prometheus refuses the whole request when one series is out of order; here series k=bad is.
    server.setRoutes([
      { path: '/api/v1/write', when: (req) => names(req).some((n) => n.includes('"bad"')), status: 400, body: 'out of order sample\n' },
      { path: '/api/v1/write', status: 204 },
    ]);
    server.clearRequests();
    const s = sender();
    const points = ['a', 'b', 'bad', 'c'].map((k) => metricPoint(numberPoint({ asDouble: 1, attributes: attrs({ k }) }), { type: 'gauge', name: 'g', unit: '' }));
    const r = await s.send(points);
    assert.deepEqual(r, { kind: 'success' });
    const accepted = server.requests.filter((req) => !names(req).some((n) => n.includes('"bad"'))).flatMap(names);
    assert.deepEqual(accepted.filter((n) => n.startsWith('g[')).sort(), ['g["a"]', 'g["b"]', 'g["c"]']);
    const metrics = s.metrics({ exporter: 'p' });
    assert.equal(metrics.find((m) => m.name === 'teleql_prometheus_refused_series_total')!.value, 1);
    s.close();
  });

  test('requests hold at most maxSamplesPerRequest samples', async () => {
    server.setRoutes([{ path: '/api/v1/write', status: 204 }]);
    server.clearRequests();
    const s = sender({ maxSamplesPerRequest: 2 });
    const points = [0, 1, 2, 3, 4].map((i) => metricPoint(numberPoint({ asDouble: i, timeUnixNano: T0 + BigInt(i) * SEC, attributes: attrs({ k: String(i) }) }), { type: 'gauge', name: 'g', unit: '' }));
    await s.send(points);
    s.close();
    // 5 series (no target_info: the resource has only service.name) → 3 requests.
    assert.equal(server.requests.length, 3);
  });

  test('classifyResponse reads an HTTP-date Retry-After too', () => {
    const r = classifyResponse(503, 'busy', new Date(Date.now() + 60_000).toUTCString());
    assert.equal(r.kind, 'retryable');
    assert.ok(r.kind === 'retryable' && r.retryAfterMs! > 50_000 && r.retryAfterMs! <= 60_000);
    assert.deepEqual(classifyResponse(204, ''), { kind: 'success' });
  });

  test('an endpoint that is not http(s) is refused at creation', () => {
    assert.throws(() => createRemoteWriteSender({ ...defaultRemoteWriteConfig(), endpoint: 'ftp://x/y' }, silentLogger()), /^SettingError: endpoint: expected a URL starting with http:\/\/ or https:\/\/ \(actual: "ftp:\/\/x\/y"\)$/);
    assert.throws(() => createRemoteWriteSender({ ...defaultRemoteWriteConfig(), endpoint: 'not a url' }, silentLogger()), /^SettingError: endpoint: "not a url" is not a URL$/);
    assert.throws(() => createRemoteWriteSender(defaultRemoteWriteConfig(), silentLogger()), /needs an endpoint/);
  });
});
