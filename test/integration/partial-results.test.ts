// One request across several backends: when one of them is down, its fields are null with an error
// naming the backend, and the fields answered by the others keep their data (every Query field is
// nullable for this reason; a non-null root field would null the whole response).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { startGateway, type TestGateway } from '../helpers/gateway.ts';
import { gql, gqlData } from '../helpers/graphql-client.ts';
import { waitFor } from '../helpers/wait-for.ts';
import { logsJson } from '../helpers/otlp-bodies.ts';

/** A local port nothing listens on (bound, then closed). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe('one backend down, the others keep answering', () => {
  let gw: TestGateway;
  before(async () => {
    gw = await startGateway({ storage: { read: { traces: 'jaeger' }, jaeger: { url: `http://127.0.0.1:${await closedPort()}` } } });
  });
  after(async () => {
    await gw?.stop();
  });

  test('traces from a Jaeger that is down are null with GW_BACKEND_UNAVAILABLE; logs and metrics from DuckDB answer in the same response', async () => {
    const res = await fetch(`${gw.otlpHttp}/v1/logs`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(logsJson([{ body: 'checkout failed', service: 'shop' }])),
    });
    assert.equal(res.status, 200);
    await waitFor(() => gqlData<{ logs: { nodes: unknown[] } }>(gw.graphqlUrl, '{ logs(first: 5) { nodes { bodyText } } }'), (d) => d.logs.nodes.length === 1, 'the log stored');

    const r = await gql<{ traces: unknown; logs: { nodes: { bodyText: string }[] }; metrics: unknown[] }>(
      gw.graphqlUrl,
      '{ traces(filter: { service: ["shop"] }) { traceId } logs(first: 5) { nodes { bodyText } } metrics { name } }',
    );
    assert.equal(r.status, 200);
    assert.equal(r.data?.traces, null);
    assert.deepEqual(r.data?.logs.nodes, [{ bodyText: 'checkout failed' }]);
    assert.deepEqual(r.data?.metrics, []);
    assert.equal(r.errors?.length, 1, JSON.stringify(r.errors));
    assert.deepEqual(r.errors[0]!.path, ['traces']);
    assert.equal(r.errors[0]!.extensions?.code, 'GW_BACKEND_UNAVAILABLE');
    assert.equal(r.errors[0]!.extensions?.backend, 'jaeger');
  });
});
