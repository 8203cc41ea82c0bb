// storage.jaeger.alwaysSendTenant: a Jaeger with tenancy enabled refuses requests without a tenant
// header, and the gateway sends none for the `default` tenant unless told to (QA round 27, M3). A
// local server answers with Jaeger's real api_v3 documents (../shared/fixtures/jaeger).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startGateway, type TestGateway } from '../helpers/gateway.ts';
import { gqlData } from '../helpers/graphql-client.ts';
import { startFixtureServer, type FixtureServer } from '../helpers/fixture-server.ts';

const FIXTURES = new URL('../../../shared/fixtures/jaeger/api-v3/', import.meta.url).pathname;

let jaeger: FixtureServer;
let always: TestGateway;
let usual: TestGateway;

before(async () => {
  jaeger = await startFixtureServer([{ method: 'GET', path: '/api/v3/services', headers: { 'content-type': 'application/json' }, bodyFile: `${FIXTURES}services.200.json` }]);
  always = await startGateway({ storage: { read: { traces: 'jaeger' }, jaeger: { url: jaeger.url, alwaysSendTenant: true } } });
  usual = await startGateway({ storage: { read: { traces: 'jaeger' }, jaeger: { url: jaeger.url } } });
});
after(async () => {
  await always?.stop();
  await usual?.stop();
  await jaeger?.close();
});

test('with storage.jaeger.alwaysSendTenant the default tenant is sent in the tenant header too; without it, no header', async () => {
  jaeger.clearRequests();
  await gqlData(always.graphqlUrl, '{ services }');
  assert.equal(jaeger.requests.length, 1);
  assert.equal(jaeger.requests[0]!.headers['x-tenant'], 'default');

  jaeger.clearRequests();
  await gqlData(usual.graphqlUrl, '{ services }');
  assert.equal(jaeger.requests.length, 1);
  assert.equal(jaeger.requests[0]!.headers['x-tenant'], undefined);
});
