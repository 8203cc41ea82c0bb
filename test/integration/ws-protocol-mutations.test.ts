// Mutations over graphql-ws run as over HTTP: an admin key changes alert rules, a query-only key is
// refused with the scope refusal HTTP gives (GW_FORBIDDEN). Yoga refused every one of them as a GET
// mutation: the request the gateway built for a graphql-ws operation had no method.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { startGateway, type TestGateway } from '../helpers/gateway.ts';
import { hashApiKey } from '../../src/auth/api-keys.ts';

const KEYS = { admin: 'ws-admin-key-0123456789', query: 'ws-query-key-0123456789' };
const CREATE = 'mutation { createAlertRule(input: { name: "Over ws", kind: SPAN_ERROR_RATE, threshold: 0.5 }) { id name } }';

interface Result {
  data?: { createAlertRule?: { id: string; name: string } | null } | null;
  errors?: { message: string; extensions?: { code?: string } }[];
}

/** Runs one operation over graphql-ws with `key`; the `next` payload, or the `error` payload as `errors`. */
function overWs(gw: TestGateway, key: string, query: string): Promise<Result> {
  const client = createClient({ url: gw.wsUrl, webSocketImpl: WebSocket, connectionParams: { 'x-api-key': key }, retryAttempts: 0, lazy: true });
  return new Promise<Result>((resolve, reject) => {
    let value: Result = {};
    client.subscribe(
      { query },
      {
        next: (v) => (value = v as Result),
        error: (err) => (Array.isArray(err) ? resolve({ errors: err as Result['errors'] }) : reject(err instanceof Error ? err : new Error(JSON.stringify(err)))),
        complete: () => resolve(value),
      },
    );
  }).finally(() => client.dispose());
}

describe('mutations over graphql-ws', () => {
  let gw: TestGateway;
  before(async () => {
    gw = await startGateway({
      auth: {
        mode: 'apiKey',
        apiKeys: [
          { name: 'admin', hash: hashApiKey(KEYS.admin), tenant: 'ws-mutations', scopes: ['admin'] },
          { name: 'query', hash: hashApiKey(KEYS.query), tenant: 'ws-mutations', scopes: ['query'] },
        ],
      },
    });
  });
  after(() => gw.stop());

  test('an admin key creates an alert rule over graphql-ws', async () => {
    const r = await overWs(gw, KEYS.admin, CREATE);
    assert.equal(r.errors, undefined, JSON.stringify(r.errors));
    assert.equal(r.data?.createAlertRule?.name, 'Over ws');
    const listed = await overWs(gw, KEYS.admin, '{ alertRules { id } }');
    assert.ok((listed.data as { alertRules: { id: string }[] }).alertRules.some((rule) => rule.id === r.data!.createAlertRule!.id));
  });

  test('a query-only key is refused with the code HTTP gives it, and no rule is created', async () => {
    const http = await fetch(gw.graphqlUrl, { method: 'POST', headers: { 'content-type': 'application/json', 'x-api-key': KEYS.query }, body: JSON.stringify({ query: CREATE }) });
    const httpBody = (await http.json()) as Result;
    assert.equal(http.status, 403);
    const r = await overWs(gw, KEYS.query, CREATE);
    assert.equal(r.errors?.[0]?.extensions?.code, httpBody.errors?.[0]?.extensions?.code);
    assert.equal(r.errors?.[0]?.extensions?.code, 'GW_FORBIDDEN');
    assert.match(r.errors![0]!.message, /mutations need the admin scope/);
    assert.equal(r.data?.createAlertRule ?? null, null);
    assert.deepEqual(Object.keys(r.errors![0]!.extensions ?? {}).sort(), ['code'], 'no http extension over ws');
  });
});
