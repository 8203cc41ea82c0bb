// A JWKS rotation with keys that have no kid (RFC 7517 makes it optional) on a real `teleql serve`
// process: both keys authenticate while the file publishes both, and every tail opened with the
// old key is closed when it is removed, whichever key verified a token last.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { waitFor } from '../helpers/wait-for.ts';
import { logLines, serve, untilReady, withServeSetup, type Served } from '../helpers/teleql-serve.ts';

/** An ES256 signing key published without a kid, and a token of it. */
async function kidlessKey() {
  const { publicKey, privateKey } = await generateKeyPair('ES256');
  return {
    jwk: { ...(await exportJWK(publicKey)), alg: 'ES256', use: 'sig' },
    token: await new SignJWT({ tenant: 'team-a', scope: 'query' }).setProtectedHeader({ alg: 'ES256' }).setExpirationTime('1h').sign(privateKey),
  };
}

/** A graphql-ws connection authenticated by `token`, with a tail subscribed: `up` once connected, `closed` how it ended. */
function tail(graphql: number, token: string) {
  let closed: { code: number; reason: string } | undefined;
  let connected!: () => void;
  let refused!: (err: Error) => void;
  const up = new Promise<void>((resolve, reject) => ((connected = resolve), (refused = reject)));
  const client = createClient({
    url: `ws://127.0.0.1:${graphql}/graphql`,
    webSocketImpl: WebSocket,
    connectionParams: { Authorization: `Bearer ${token}` },
    retryAttempts: 0,
    on: {
      connected: () => connected(),
      closed: (e) => {
        closed = e as { code: number; reason: string };
        refused(new Error(`closed: ${closed.code} ${closed.reason}`));
      },
    },
  });
  client.subscribe({ query: 'subscription { tailLogs { dropped } }' }, { next: () => {}, error: () => {}, complete: () => {} });
  return { client, up, closed: () => closed };
}

test('JWKS keys without a kid: tokens of the old and the new key open tails while both are published, and removing the old key closes all of its tails and none of the new one\'s', () =>
  withServeSetup(async ({ dir, config, env, graphql }) => {
    // Found by the review of QA round 32: every JWT was refused while both keys were published, and
    // the old key's first tails were not closed at its removal once a new-key token had verified.
    const jwks = join(dir, 'jwks.json');
    const publish = (...keys: { jwk: object }[]) => {
      writeFileSync(`${jwks}.tmp`, JSON.stringify({ keys: keys.map((k) => k.jwk) }));
      renameSync(`${jwks}.tmp`, jwks);
    };
    const [a, b] = [await kidlessKey(), await kidlessKey()];
    publish(a);
    writeFileSync(config, `auth:\n  mode: jwt\n  jwt: { jwksFile: ${jwks}, tenantClaim: tenant, scopesClaim: scope }\nstorage:\n  duckdb:\n    path: ":memory:"\n`);
    const gw = serve(['--config', config], env);
    /** Sends SIGHUP and waits for the JWKS file's reading it causes. */
    const hup = async (served: Served) => {
      const readings = () => logLines(served).filter((l) => l.msg === 'JWKS file read again').length;
      const before = readings();
      served.child.kill('SIGHUP');
      await waitFor(async () => readings(), (n) => n === before + 1, 'the JWKS file read again');
    };
    try {
      await untilReady(gw, graphql);
      const beforeRotation = tail(graphql, a.token);
      await beforeRotation.up;

      publish(a, b);
      await hup(gw);
      const byB = tail(graphql, b.token);
      await byB.up;
      const duringRotation = tail(graphql, a.token);
      await duringRotation.up;

      publish(b);
      await hup(gw);
      for (const [name, ws] of [['before the rotation', beforeRotation], ['during the rotation', duringRotation]] as const) {
        const closed = await waitFor(async () => ws.closed(), (c) => c !== undefined, `the old key's tail opened ${name} closed`);
        assert.deepEqual([closed!.code, closed!.reason], [4401, 'GW_UNAUTHENTICATED: the credential was revoked']);
      }
      assert.equal(byB.closed(), undefined, "the new key's tail stays");
      const answer = await new Promise<unknown>((resolve, reject) => byB.client.subscribe({ query: '{ __typename }' }, { next: resolve, error: reject, complete: () => {} }));
      assert.deepEqual(answer, { data: { __typename: 'Query' } });
      await Promise.all([beforeRotation.client.dispose(), duringRotation.client.dispose(), byB.client.dispose()]);
    } finally {
      gw.child.kill('SIGTERM');
      await gw.exited;
    }
  }));

test('a key removed from the JWKS file closes its tails with no SIGHUP and no other JWT request (the file is looked at once a second)', () =>
  withServeSetup(async ({ dir, config, env, graphql }) => {
    // QA round 37: the file was looked at only when a JWT request came, so on a gateway with few of
    // them a withdrawn key's tails ran on until a SIGHUP.
    const jwks = join(dir, 'jwks.json');
    const [a, b] = [await kidlessKey(), await kidlessKey()];
    writeFileSync(jwks, JSON.stringify({ keys: [a.jwk] }));
    writeFileSync(config, `auth:\n  mode: jwt\n  jwt: { jwksFile: ${jwks}, tenantClaim: tenant, scopesClaim: scope }\nstorage:\n  duckdb:\n    path: ":memory:"\n`);
    const gw = serve(['--config', config], env);
    try {
      await untilReady(gw, graphql);
      const byA = tail(graphql, a.token);
      await byA.up;
      writeFileSync(`${jwks}.tmp`, JSON.stringify({ keys: [b.jwk] }));
      renameSync(`${jwks}.tmp`, jwks);
      const closed = await waitFor(async () => byA.closed(), (c) => c !== undefined, "the removed key's tail closed");
      assert.deepEqual([closed!.code, closed!.reason], [4401, 'GW_UNAUTHENTICATED: the credential was revoked']);
      assert.equal(logLines(gw).filter((l) => l.msg === 'JWKS file read again').length, 1);
      await byA.client.dispose();
    } finally {
      gw.child.kill('SIGTERM');
      await gw.exited;
    }
  }));
