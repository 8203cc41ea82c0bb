// Cross-origin calls to the GraphQL API: none by default (Yoga's default answered every origin,
// with credentials, so with auth off any web page a developer opened could read the local
// gateway's telemetry), and only the configured origins when graphql.cors.allowedOrigins is set.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startGateway } from '../helpers/gateway.ts';
import { loadConfig } from '../../src/config/load.ts';
import WebSocket from 'ws';
import { hashApiKey } from '../../src/auth/api-keys.ts';

const preflight = (url: string, origin: string) =>
  fetch(url, { method: 'OPTIONS', headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type' } });
const query = (url: string, origin: string) =>
  fetch(url, { method: 'POST', headers: { origin, 'content-type': 'application/json' }, body: JSON.stringify({ query: '{ services }' }) });

test('by default no other origin may call the API; the configured ones may, without credentials', async () => {
  const closed = await startGateway();
  try {
    const p = await preflight(closed.graphqlUrl, 'https://evil.example');
    assert.equal(p.headers.get('access-control-allow-origin'), null);
    const q = await query(closed.graphqlUrl, 'https://evil.example');
    assert.equal(q.headers.get('access-control-allow-origin'), null, 'the browser keeps the answer from the page');
    assert.equal(q.headers.get('access-control-allow-credentials'), null);
  } finally {
    await closed.stop();
  }

  const open = await startGateway({ graphql: { cors: { allowedOrigins: ['https://grafana.example.com'] } } });
  try {
    const p = await preflight(open.graphqlUrl, 'https://grafana.example.com');
    assert.equal(p.headers.get('access-control-allow-origin'), 'https://grafana.example.com');
    const q = await query(open.graphqlUrl, 'https://grafana.example.com');
    assert.equal(q.status, 200);
    assert.equal(q.headers.get('access-control-allow-origin'), 'https://grafana.example.com');
    assert.equal(q.headers.get('access-control-allow-credentials'), null);
    const other = await query(open.graphqlUrl, 'https://evil.example');
    assert.notEqual(other.headers.get('access-control-allow-origin'), 'https://evil.example');
  } finally {
    await open.stop();
  }
  assert.throws(() => loadConfig({ env: {}, overrides: { graphql: { cors: { allowedOrigins: ['grafana.example.com/x'] } } } }), /graphql\.cors\.allowedOrigins: expected origins like/);
});

test('with auth on, a preflight from a listed origin is answered without credentials as Yoga answers it; other origins and other OPTIONS get nothing (security QA)', async () => {
  // Found by security QA: the preflight (which browsers send without credentials) got 401, so no
  // listed origin could ever send its authenticated request.
  const key = 'cors-query-key-0123456789';
  const gw = await startGateway({
    auth: { mode: 'apiKey', apiKeys: [{ name: 'grafana', hash: hashApiKey(key), tenant: 'team-a', scopes: ['query'] }] },
    graphql: { cors: { allowedOrigins: ['https://grafana.example.com', 'https://other.example.com'] } },
  });
  try {
    const p = await fetch(gw.graphqlUrl, {
      method: 'OPTIONS',
      headers: { origin: 'https://grafana.example.com', 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization,content-type' },
    });
    assert.equal(p.status, 204);
    assert.equal(p.headers.get('access-control-allow-origin'), 'https://grafana.example.com');
    assert.equal(p.headers.get('access-control-allow-methods'), 'GET, POST');
    assert.equal(p.headers.get('access-control-allow-headers'), 'authorization,content-type');
    assert.equal(p.headers.get('access-control-allow-credentials'), null);
    assert.equal(p.headers.get('www-authenticate'), null);
    const q = await fetch(gw.graphqlUrl, {
      method: 'POST',
      headers: { origin: 'https://grafana.example.com', 'content-type': 'application/json', authorization: `Bearer ${key}` },
      body: JSON.stringify({ query: '{ services }' }),
    });
    assert.equal(q.status, 200);
    assert.equal(q.headers.get('access-control-allow-origin'), 'https://grafana.example.com');

    const evil = await fetch(gw.graphqlUrl, { method: 'OPTIONS', headers: { origin: 'https://evil.example', 'access-control-request-method': 'POST' } });
    assert.equal(evil.status, 204);
    assert.deepEqual([...evil.headers.keys()].filter((h) => h.startsWith('access-control-')), []);
    // Not a preflight (no Access-Control-Request-Method), or not the GraphQL path: authenticated as before.
    assert.equal((await fetch(gw.graphqlUrl, { method: 'OPTIONS', headers: { origin: 'https://grafana.example.com' } })).status, 401);
    const metrics = new URL('/metrics', gw.graphqlUrl).toString();
    assert.equal((await fetch(metrics, { method: 'OPTIONS', headers: { origin: 'https://grafana.example.com', 'access-control-request-method': 'GET' } })).status, 401);
    const other = new URL('/graphql/x', gw.graphqlUrl).toString();
    assert.equal((await fetch(other, { method: 'OPTIONS', headers: { origin: 'https://grafana.example.com', 'access-control-request-method': 'GET' } })).status, 401);
  } finally {
    await gw.stop();
  }
});

test('graphql-ws takes no upgrade from a page of another origin; clients without Origin, the gateway’s own origin and configured origins connect', async () => {
  const gw = await startGateway({ graphql: { cors: { allowedOrigins: ['https://grafana.example.com'] } } });
  const opens = (origin?: string) =>
    new Promise<number | 'open'>((resolve) => {
      const ws = new WebSocket(gw.wsUrl, 'graphql-transport-ws', origin ? { origin } : {});
      ws.on('open', () => {
        ws.close();
        resolve('open');
      });
      ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
      ws.on('error', () => undefined);
    });
  try {
    assert.equal(await opens('https://evil.example'), 401);
    assert.equal(await opens(), 'open');
    assert.equal(await opens(new URL(gw.graphqlUrl).origin), 'open');
    assert.equal(await opens('https://grafana.example.com'), 'open');
  } finally {
    await gw.stop();
  }
});

test('POST bodies of the types a web form sends cross-site are refused (415), so no page can post a mutation', async () => {
  const gw = await startGateway();
  try {
    const mutation = 'mutation { silence(input: { matchers: [{ name: "alertname", type: REGEX, value: ".*" }], duration: "1h", comment: "x" }) { id } }';
    const form = new URLSearchParams({ query: mutation });
    for (const [type, body] of [['application/x-www-form-urlencoded', form.toString()], ['text/plain', JSON.stringify({ query: mutation })]] as const) {
      const res = await fetch(gw.graphqlUrl, { method: 'POST', headers: { 'content-type': type, origin: 'https://evil.example' }, body });
      assert.equal(res.status, 415, type);
      assert.match(await res.text(), /send application\/json/);
    }
    const multipart = new FormData();
    multipart.set('operations', JSON.stringify({ query: mutation }));
    assert.equal((await fetch(gw.graphqlUrl, { method: 'POST', body: multipart })).status, 415);
    const silences = await fetch(gw.graphqlUrl, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query: '{ silences { id } }' }) });
    assert.deepEqual(await silences.json(), { data: { silences: [] } });
  } finally {
    await gw.stop();
  }
});
