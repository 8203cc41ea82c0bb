// Auth QA (session 35) on real gateways: `Bearer <key>` with auth.apiKeyHeader: Authorization, one
// key hash listed twice, a JWT secret beside a JWKS file, the auth-off warning at any log level and
// for loopback in any spelling, and auth.health for /healthz and /readyz.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SignJWT } from 'jose';
import { startGateway, type TestGateway } from '../helpers/gateway.ts';
import { capturingLogger } from '../helpers/capturing-logger.ts';
import { serve, untilReady, withServeSetup } from '../helpers/teleql-serve.ts';
import { hashApiKey } from '../../src/auth/api-keys.ts';
import { createAuthenticator, warnIfExposed } from '../../src/auth/authenticator.ts';
import { loadConfig } from '../../src/config/load.ts';
import { defaultAuthConfig } from '../../src/config/security.ts';
import { answerProbe } from '../../src/server/graphql-listener.ts';
import { silentLogger } from '../../src/logger.ts';

const KEY = 'query-key-of-tenant-a-0123456789abcdef';
const INGEST_KEY = 'ingest-key-of-tenant-a-0123456789abcdef';
const SECRET = 'a-shared-secret-of-at-least-32-characters!';

const ask = (url: string, headers: Record<string, string> = {}) =>
  fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify({ query: '{ __typename }' }) });

describe('auth.apiKeyHeader: Authorization', () => {
  let gw: TestGateway;
  before(async () => {
    gw = await startGateway({
      auth: {
        mode: 'apiKey+jwt',
        apiKeyHeader: 'Authorization',
        apiKeys: [{ name: 'query-a', hash: hashApiKey(KEY), tenant: 'tenant-a', scopes: ['query'] }],
        jwt: { secret: SECRET },
      },
    });
  });
  after(() => gw.stop());

  test('the key is accepted bare, after Bearer and after ApiKey, and a bearer JWT is still checked as a JWT', async () => {
    // `Bearer <key>` (what the docs and OTel SDK users write) got 401: the header's whole value was looked up as the key.
    for (const value of [KEY, `Bearer ${KEY}`, `bearer ${KEY}`, `ApiKey ${KEY}`]) {
      assert.equal((await ask(gw.graphqlUrl, { authorization: value })).status, 200, value.replace(KEY, '<key>'));
    }
    const token = await new SignJWT({ tenant: 'tenant-a', scope: 'query' }).setProtectedHeader({ alg: 'HS256' }).setExpirationTime('5m').sign(new TextEncoder().encode(SECRET));
    assert.equal((await ask(gw.graphqlUrl, { authorization: `Bearer ${token}` })).status, 200);
  });

  test('a wrong key, a forged JWT and another scheme get the same 401', async () => {
    const forged = await new SignJWT({ tenant: 'tenant-a', scope: 'query' }).setProtectedHeader({ alg: 'HS256' }).setExpirationTime('5m').sign(new TextEncoder().encode('x'.repeat(40)));
    const bodies = new Set<string>();
    for (const value of ['Bearer wrong-key-0123456789', 'wrong-key-0123456789', `Bearer ${forged}`, `Basic ${KEY}`, '']) {
      const r = await ask(gw.graphqlUrl, value ? { authorization: value } : {});
      assert.equal(r.status, 401, value);
      bodies.add(await r.text());
    }
    assert.equal(bodies.size, 1, 'never says which check failed');
  });
});

describe('config checks of auth', () => {
  test('one API key hash listed twice is refused, naming both entries', () => {
    const hash = hashApiKey(KEY);
    const apiKeys = [
      { name: 'a', hash, tenant: 'tenant-a', scopes: ['query'] },
      { name: 'other', hash: hashApiKey(INGEST_KEY), tenant: 'tenant-a', scopes: ['ingest'] },
      { name: 'b', hash, tenant: 'tenant-b', scopes: ['admin'] },
    ];
    assert.throws(() => loadConfig({ env: {}, overrides: { auth: { mode: 'apiKey', apiKeys } } }), /auth\.apiKeys\[2\]\.hash: the same hash as auth\.apiKeys\[0\] \("a" and "b"\)/);
  });

  test('auth.jwt.secret and auth.jwt.jwksFile together are refused rather than the secret ignored', () => {
    assert.throws(
      () => loadConfig({ env: { TELEQL_JWT_SECRET: SECRET }, overrides: { auth: { mode: 'jwt', jwt: { jwksFile: '/nonexistent/jwks.json' } } } }),
      /auth\.jwt: set jwt\.secret .* or jwt\.jwksFile .*, not both/,
    );
  });

  test('teleql serve exits 2 on a duplicated key hash before anything listens', () =>
    withServeSetup(async ({ config, env }) => {
      const hash = hashApiKey(KEY);
      writeFileSync(
        config,
        `auth:\n  mode: apiKey\n  apiKeys:\n    - { name: a, hash: "${hash}", tenant: tenant-a, scopes: [query] }\n    - { name: b, hash: "${hash}", tenant: tenant-b, scopes: [query] }\n`,
      );
      const served = serve(['--config', config], env);
      assert.equal(await served.exited, 2);
      assert.match(served.output(), /auth\.apiKeys\[1\]\.hash: the same hash as auth\.apiKeys\[0\]/);
    }));
});

describe('the auth-off warning', () => {
  test('is written to stderr at --log-level silent while listeners are bound to 0.0.0.0', () =>
    withServeSetup(async ({ graphql, env }) => {
      const served = serve(['--host', '0.0.0.0', '--data', ':memory:', '--log-level', 'silent'], { ...env, TELEQL_LOG_LEVEL: 'silent' });
      try {
        await untilReady(served, graphql);
        const warnings = served.output().split('\n').filter((l) => l.startsWith('teleql: SECURITY: '));
        assert.equal(warnings.length, 3, `one per listener: ${served.output()}`);
      } finally {
        served.child.kill('SIGTERM');
        await served.exited;
      }
    }));

  test('is logged at error level, and not for loopback written in any form', () => {
    const { logger, lines } = capturingLogger();
    const loopback = { a: '0:0:0:0:0:0:0:1', b: '[::1]', c: '::ffff:127.0.0.1', d: '127.0.0.2', e: 'LOCALHOST' };
    assert.deepEqual(warnIfExposed('none', { ...loopback, f: '::', g: '::ffff:10.0.0.1' }, logger), ['f', 'g']);
    assert.deepEqual(lines.map((l) => l.level), [50, 50]);
  });
});

describe('auth.health', () => {
  const keys = [
    { name: 'query-a', hash: hashApiKey(KEY), tenant: 'tenant-a', scopes: ['query'] },
    { name: 'ingest-a', hash: hashApiKey(INGEST_KEY), tenant: 'tenant-a', scopes: ['ingest'] },
  ];
  const probes = (gw: TestGateway) => ['/healthz', '/readyz'].map((p) => gw.graphqlUrl.replace(/\/graphql$/, p));

  test('open by default: probes without a credential are answered', async () => {
    const gw = await startGateway({ auth: { mode: 'apiKey', apiKeys: keys } });
    try {
      for (const url of probes(gw)) assert.equal((await fetch(url)).status, 200, url);
    } finally {
      await gw.stop();
    }
  });

  test('authenticated: probes need a valid credential of any scope, else 401', async () => {
    const gw = await startGateway({ auth: { mode: 'apiKey', apiKeys: keys, health: 'authenticated' } });
    try {
      for (const url of probes(gw)) {
        const refused = await fetch(url);
        assert.equal(refused.status, 401, url);
        assert.equal(((await refused.json()) as { errors: { extensions: { code: string } }[] }).errors[0]!.extensions.code, 'GW_UNAUTHENTICATED');
        assert.equal((await fetch(url, { headers: { 'x-api-key': 'wrong-key-0123456789' } })).status, 401, url);
        assert.equal((await fetch(url, { headers: { 'x-api-key': INGEST_KEY } })).status, 200, url);
        assert.equal((await fetch(url, { headers: { authorization: `Bearer ${KEY}` } })).status, 200, url);
      }
    } finally {
      await gw.stop();
    }
  });

  test("/readyz tells a caller without a valid credential the status, not its reason (a store's file path)", async () => {
    const auth = { ...defaultAuthConfig(), mode: 'apiKey' as const, apiKeys: keys };
    const authenticator = createAuthenticator(auth, silentLogger());
    const reason = 'unavailable: IO Error: Cannot open file "/var/lib/teleql/teleql.duckdb": No space left on device';
    const server: Server = createServer((req, res) => void answerProbe(req.url!, req, res, () => reason, authenticator));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/readyz`;
      const anonymous = await fetch(url);
      assert.equal(anonymous.status, 503);
      assert.deepEqual(await anonymous.json(), { status: 'unavailable' });
      const operator = await fetch(url, { headers: { 'x-api-key': INGEST_KEY } });
      assert.equal(operator.status, 503);
      assert.deepEqual(await operator.json(), { status: reason });
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });
});

