// The Jaeger exporter over real sockets. A second teleql gateway stands in for Jaeger's OTLP
// receiver (Jaeger v2 takes the same OTLP/HTTP and OTLP/gRPC requests); a fixture server plays a
// Jaeger that is down and comes back, to prove spill, restart persistence and order.
import { after, afterEach, before, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startGateway, type TestGateway } from '../helpers/gateway.ts';
import { gqlData } from '../helpers/graphql-client.ts';
import { waitFor } from '../helpers/wait-for.ts';
import { sendTrace } from '../helpers/otel-sdk.ts';
import { startFixtureServer, closedPort, type FixtureServer } from '../helpers/fixture-server.ts';
import { decodeRequest } from '../../src/otlp/codec.ts';
import { spansJson } from '../helpers/otlp-bodies.ts';
import { gunzipSync } from 'node:zlib';

const TRACE = `query($id: ID!) { trace(traceId: $id) { traceId spanCount services spans { spanId parentSpanId name kind status { code message } attributes events { name attributes } links { traceId spanId attributes } resource { serviceName attributes } scope { name version } startTimeUnixNano endTimeUnixNano } } }`;
const BACKENDS = `{ backends { id kind signal roles endpoint healthy lastError queueDepth itemsWritten itemsFailed spilled dropped retries } }`;

interface BackendView {
  id: string;
  kind: string;
  signal: string;
  roles: string[];
  endpoint: string;
  healthy: boolean;
  lastError: string | null;
  queueDepth: number;
  itemsWritten: number;
  itemsFailed: number;
  spilled: number;
  dropped: number;
  retries: number;
}

function jaegerPipeline(exporter: Record<string, unknown>, spillDir: string): Record<string, unknown> {
  return {
    exporters: {
      duckdb: {},
      jaeger: { batch: { maxItems: 512, flushIntervalMs: 20 }, retry: { initialIntervalMs: 20, maxIntervalMs: 100 }, spill: { directory: spillDir }, ...exporter },
    },
    pipelines: { traces: { receivers: ['otlp'], processors: ['batch'], exporters: ['duckdb', 'jaeger'] } },
  };
}

async function backendsOf(gw: TestGateway): Promise<BackendView[]> {
  return (await gqlData<{ backends: BackendView[] }>(gw.graphqlUrl, BACKENDS)).backends;
}

let spillDir: string;
beforeEach(async () => {
  spillDir = await mkdtemp(join(tmpdir(), 'teleql-jaeger-spill-'));
});
afterEach(async () => {
  await rm(spillDir, { recursive: true, force: true });
});

describe('jaeger exporter → a real OTLP receiver', () => {
  let jaeger: TestGateway;
  before(async () => {
    jaeger = await startGateway();
  });
  after(async () => {
    await jaeger?.stop();
  });

  for (const protocol of ['http', 'grpc'] as const) {
    test(`spans reach the receiver over OTLP/${protocol} and read back the same as from the gateway's own DuckDB`, async () => {
      const endpoint = protocol === 'http' ? jaeger.otlpHttp : jaeger.otlpGrpc;
      // The receiver reads the tenant from X-Scope-OrgID: send it there to prove tenants travel.
      const gw = await startGateway(jaegerPipeline({ protocol, endpoint, tenantHeader: 'x-scope-orgid' }, spillDir));
      try {
        const headers = { 'x-scope-orgid': `team-${protocol}` };
        const sent = await sendTrace('http-proto', gw, { service: `svc-${protocol}`, headers });
        const read = (g: TestGateway) =>
          waitFor(
            () => gqlData<{ trace: { spanCount: number } | null }>(g.graphqlUrl, TRACE, { id: sent.traceId }, headers),
            (d) => (d.trace?.spanCount ?? 0) >= 2,
            `trace ${sent.traceId} on ${g === gw ? 'the gateway' : 'the receiver'}`,
          );
        const local = await read(gw);
        const remote = await read(jaeger);
        assert.deepEqual(remote, local);
        // Another tenant sees nothing on the receiver.
        const other = await gqlData<{ trace: unknown }>(jaeger.graphqlUrl, TRACE, { id: sent.traceId }, { 'x-scope-orgid': 'someone-else' });
        assert.equal(other.trace, null);

        const b = await waitFor(() => backendsOf(gw), (bs) => (bs.find((x) => x.kind === 'jaeger')?.itemsWritten ?? 0) >= 2, 'jaeger counted as written');
        const j = b.find((x) => x.kind === 'jaeger')!;
        assert.equal(j.id, 'jaeger/traces');
        assert.deepEqual(j.roles, ['WRITE']);
        assert.equal(j.healthy, true);
        assert.equal(j.lastError, null);
        assert.equal(j.itemsFailed, 0);
        assert.equal(j.endpoint, protocol === 'http' ? `${jaeger.otlpHttp}/v1/traces` : `grpc://${jaeger.otlpGrpc}`);
        const duck = b.find((x) => x.id === 'duckdb/traces')!;
        assert.deepEqual(duck.roles, ['WRITE', 'READ']);
        // The same figures on /metrics.
        const metrics = await (await fetch(gw.graphqlUrl.replace('/graphql', '/metrics'))).text();
        assert.match(metrics, new RegExp(`teleql_exporter_sent_items_total\\{exporter="jaeger/traces",kind="jaeger",signal="traces"\\} ${j.itemsWritten}`));
        assert.match(metrics, /teleql_backend_healthy\{backend="jaeger\/traces",kind="jaeger",role="write"\} 1/);
      } finally {
        await gw.stop();
      }
    });
  }

  test('a refused connection spills; the receiver coming up on that port gets everything', async () => {
    const port = await closedPort();
    const gw = await startGateway(jaegerPipeline({ endpoint: `http://127.0.0.1:${port}` }, spillDir));
    let late: TestGateway | undefined;
    try {
      const sent = await sendTrace('grpc', gw, { service: 'while-down' });
      const down = await waitFor(() => backendsOf(gw), (bs) => (bs.find((x) => x.kind === 'jaeger')?.spilled ?? 0) >= 2, 'spans spilled');
      const j = down.find((x) => x.kind === 'jaeger')!;
      assert.equal(j.healthy, false);
      assert.equal(j.lastError, 'cannot reach jaeger (ECONNREFUSED) for OTLP/HTTP Export');
      late = await startGateway({ receivers: { otlp: { http: { port } } } });
      await waitFor(
        () => gqlData<{ trace: { spanCount: number } | null }>(late!.graphqlUrl, TRACE, { id: sent.traceId }),
        (d) => (d.trace?.spanCount ?? 0) >= 2,
        'trace delivered after the receiver came up',
        20_000,
      );
      await waitFor(() => backendsOf(gw), (bs) => bs.find((x) => x.kind === 'jaeger')?.queueDepth === 0, 'queue drained');
    } finally {
      await gw.stop();
      await late?.stop();
    }
  });
});

describe('jaeger exporter: batches of long spans, to a receiver that takes 4 MiB messages (as Jaeger does by default)', () => {
  let jaeger: TestGateway;
  before(async () => {
    // An in-memory store keeps its data in DuckDB's memory limit: room for the 4,000 long spans.
    jaeger = await startGateway({ receivers: { otlp: { maxRequestBytes: 4 * 1024 * 1024 } }, storage: { duckdb: { memoryLimit: '512MB' } } });
  });
  after(async () => {
    await jaeger?.stop();
  });

  for (const protocol of ['grpc', 'http'] as const) {
    test(`OTLP/${protocol}: 2,000 spans of 15 KB arrive in requests under 4 MiB; a 5 MB span alone is counted failed, not retried forever`, async () => {
      const endpoint = protocol === 'http' ? jaeger.otlpHttp : jaeger.otlpGrpc;
      const tenant = `long-${protocol}`;
      // The exporter's default batch (8,192 spans) of these was one ~30 MB request, refused with
      // RESOURCE_EXHAUSTED (gRPC: retried forever) or 413 (HTTP) every time.
      const gw = await startGateway(jaegerPipeline({ protocol, endpoint, tenantHeader: 'x-scope-orgid', batch: { maxItems: 8_192, flushIntervalMs: 20 } }, spillDir));
      try {
        const headers = { 'content-type': 'application/json', 'x-scope-orgid': tenant };
        const prompt = 'p'.repeat(15_000);
        for (let i = 0; i < 4; i++) {
          const res = await fetch(`${gw.otlpHttp}/v1/traces`, { method: 'POST', headers, body: JSON.stringify(spansJson(Array.from({ length: 500 }, () => ({ service: 'llm', attributes: { 'gen_ai.prompt': prompt } })))) });
          assert.equal(res.status, 200);
        }
        const huge = await fetch(`${gw.otlpHttp}/v1/traces`, { method: 'POST', headers, body: JSON.stringify(spansJson([{ service: 'llm', name: 'huge', attributes: { 'gen_ai.prompt': 'h'.repeat(5_000_000) } }])) });
        assert.equal(huge.status, 200);
        const done = await waitFor(() => backendsOf(gw), (bs) => {
          const j = bs.find((x) => x.kind === 'jaeger')!;
          return j.itemsWritten + j.itemsFailed >= 2_001;
        }, 'every span sent or failed', 30_000);
        const j = done.find((x) => x.kind === 'jaeger')!;
        assert.equal(j.itemsWritten, 2_000);
        assert.equal(j.itemsFailed, 1, 'the 5 MB span');
        assert.equal(j.queueDepth, 0);
        // What the receiver stored, in pages of 1,000.
        const stored = async () => {
          let n = 0;
          let after: string | null = null;
          do {
            const page: { spans: { edges: unknown[]; pageInfo: { endCursor: string | null; hasNextPage: boolean } } } = await gqlData(
              jaeger.graphqlUrl,
              'query($after: String) { spans(first: 1000, after: $after, filter: { from: "now-1h", service: ["llm"] }) { edges { node { spanId } } pageInfo { endCursor hasNextPage } } }',
              { after },
              { 'x-scope-orgid': tenant },
            );
            n += page.spans.edges.length;
            after = page.spans.pageInfo.hasNextPage ? page.spans.pageInfo.endCursor : null;
          } while (after);
          return n;
        };
        assert.equal(await waitFor(stored, (n) => n >= 2_000, 'the 2,000 spans stored by the receiver'), 2_000);
      } finally {
        await gw.stop();
      }
    });
  }
});

describe('jaeger exporter: a Jaeger that is down, and a gateway restart', () => {
  let fixture: FixtureServer;
  before(async () => {
    fixture = await startFixtureServer();
  });
  after(async () => {
    await fixture?.close();
  });

  test('spans wait in the spill across a restart and arrive in order once Jaeger answers', async () => {
    // Down: 503 with Retry-After, as Jaeger's collector answers when its queue is full.
    fixture.setRoutes([{ method: 'POST', path: '/v1/traces', status: 503, headers: { 'retry-after': '0' }, body: 'queue is full' }]);
    const cfg = jaegerPipeline({ endpoint: fixture.url }, spillDir);
    const gw1 = await startGateway(cfg);
    const order: string[] = [];
    let total = 0;
    try {
      for (let i = 0; i < 3; i++) {
        const t = await sendTrace('http-proto', gw1, { service: `first-${i}` });
        order.push(t.traceId);
      }
      const down = await waitFor(() => backendsOf(gw1), (bs) => (bs.find((x) => x.kind === 'jaeger')?.spilled ?? 0) >= 9, 'spans spilled');
      total = down.find((x) => x.kind === 'jaeger')!.spilled;
      // The status only: what Jaeger wrote is logged, not shown to admins (it can echo data or addresses).
      assert.equal(down.find((x) => x.kind === 'jaeger')!.lastError, 'jaeger answered HTTP 503 to OTLP/HTTP Export');
    } finally {
      await gw1.stop();
    }
    assert.ok(fixture.requests.length >= 1, 'Jaeger was tried');

    // A new gateway on the same spill directory; Jaeger still down for its first attempts.
    const gw2 = await startGateway(cfg);
    try {
      const t = await sendTrace('http-proto', gw2, { service: 'second' });
      order.push(t.traceId);
      await waitFor(() => backendsOf(gw2), (bs) => (bs.find((x) => x.kind === 'jaeger')?.spilled ?? 0) >= total + 3, 'new spans spilled behind the old');
      fixture.clearRequests();
      fixture.setRoutes([{ method: 'POST', path: '/v1/traces', status: 200, headers: { 'content-type': 'application/x-protobuf' }, body: '' }]);
      await waitFor(() => backendsOf(gw2), (bs) => bs.find((x) => x.kind === 'jaeger')?.queueDepth === 0, 'everything delivered', 20_000);
      const delivered = fixture.requests.flatMap((r) => {
        assert.equal(r.headers['content-type'], 'application/x-protobuf');
        return decodeRequest('traces', r.body, 'protobuf', 'default').items;
      });
      assert.equal(delivered.length, total + 3);
      // Traces arrive in the order they were sent: first appearance of each trace ID.
      const seen = [...new Set(delivered.map((s) => s.traceId))].filter((id) => order.includes(id));
      assert.deepEqual(seen, order);
      const b = (await backendsOf(gw2)).find((x) => x.kind === 'jaeger')!;
      assert.equal(b.healthy, true);
      assert.equal(b.dropped, 0);
    } finally {
      await gw2.stop();
    }
  });

  test('credentials, gzip and the tenant header go with every request; the default tenant sends none', async () => {
    fixture.clearRequests();
    fixture.setRoutes([{ method: 'POST', path: '/v1/traces', status: 200, headers: { 'content-type': 'application/x-protobuf' }, body: '' }]);
    const gw = await startGateway(jaegerPipeline({ endpoint: fixture.url, compression: 'gzip', auth: { bearer: 's3cret' }, headers: { 'x-extra': 'yes' } }, spillDir));
    try {
      await sendTrace('http-proto', gw, { service: 'tenanted', headers: { 'x-scope-orgid': 'acme' } });
      await sendTrace('http-proto', gw, { service: 'untenanted' });
      await waitFor(() => backendsOf(gw), (bs) => (bs.find((x) => x.kind === 'jaeger')?.itemsWritten ?? 0) >= 6, 'both traces written');
      for (const r of fixture.requests) {
        assert.equal(r.headers.authorization, 'Bearer s3cret');
        assert.equal(r.headers['x-extra'], 'yes');
        assert.equal(r.headers['content-encoding'], 'gzip');
      }
      const byTenant = new Map<string, string[]>();
      for (const r of fixture.requests) {
        const tenant = String(r.headers['x-tenant'] ?? '(none)');
        const services = decodeRequest('traces', gunzipSync(r.body), 'protobuf', tenant).items.map((sp) => String(sp.resource.attributes.find((a) => a.key === 'service.name')?.value && (sp.resource.attributes.find((a) => a.key === 'service.name')!.value as { stringValue: string }).stringValue));
        byTenant.set(tenant, [...(byTenant.get(tenant) ?? []), ...services]);
      }
      assert.deepEqual([...new Set(byTenant.get('acme'))], ['tenanted']);
      assert.deepEqual([...new Set(byTenant.get('(none)'))], ['untenanted']);
    } finally {
      await gw.stop();
    }
  });

  test('a 400 from Jaeger drops the batch and counts it as failed, with the status (the reason is logged)', async () => {
    fixture.setRoutes([{ method: 'POST', path: '/v1/traces', status: 400, body: 'bad request: span_id' }]);
    const gw = await startGateway(jaegerPipeline({ endpoint: fixture.url }, spillDir));
    try {
      await sendTrace('http-proto', gw, { service: 'refused' });
      const bs = await waitFor(() => backendsOf(gw), (x) => (x.find((b) => b.kind === 'jaeger')?.itemsFailed ?? 0) >= 2, 'failure counted');
      const j = bs.find((b) => b.kind === 'jaeger')!;
      assert.equal(j.spilled, 0);
      assert.equal(j.lastError, 'jaeger answered HTTP 400 to OTLP/HTTP Export');
    } finally {
      await gw.stop();
    }
  });
});
