// The authenticator without sockets: key hashes, the tenant rule, scopes, config checks, and the
// warning for open listeners.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { SignJWT, exportJWK, generateKeyPair } from 'jose';
import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import type { KeyObject } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createAuthenticator, isJwt, warnIfExposed } from '../../../src/auth/authenticator.ts';
import { createApiKeyVerifier, hashApiKey, SCRYPT_QUEUE_LIMIT } from '../../../src/auth/api-keys.ts';
import { AuthError, nodeHeaders } from '../../../src/auth/types.ts';
import { defaultAuthConfig } from '../../../src/config/security.ts';
import { loadConfig } from '../../../src/config/load.ts';
import { createRootLogger, silentLogger } from '../../../src/logger.ts';
import { capturingLogger } from '../../helpers/capturing-logger.ts';
import { waitFor } from '../../helpers/wait-for.ts';

const headers = (h: Record<string, string>) => nodeHeaders(h);

test('sha256 and scrypt key hashes verify the key and nothing else', async () => {
  const v = createApiKeyVerifier([
    { name: 'fast', hash: hashApiKey('k1'), tenant: 't1', scopes: ['ingest'] },
    { name: 'slow', hash: hashApiKey('k2', 'scrypt'), tenant: 't2', scopes: ['query'] },
  ]);
  assert.equal((await v.verify('k1'))?.tenant, 't1');
  assert.equal((await v.verify('k2'))?.tenant, 't2');
  assert.equal((await v.verify('k2'))?.tenant, 't2', 'cached');
  assert.equal(await v.verify('k3'), undefined);
  assert.equal(await v.verify(''), undefined);
});

test('wrong keys cannot keep the main thread hashing: scrypt runs off it, one at a time, with a bounded queue', async () => {
  // Found by security QA: each wrong key cost a synchronous scrypt (~45 ms) per scrypt entry, so 25
  // wrong keys a second took a valid tenant's query p50 from 5 to 477 ms.
  const v = createApiKeyVerifier([
    { name: 'slow', hash: hashApiKey('chosen passphrase', 'scrypt'), tenant: 't', scopes: ['query'] },
    { name: 'fast', hash: hashApiKey('random-key'), tenant: 'f', scopes: ['query'] },
  ]);
  let hashed = 0;
  const wrong = Array.from({ length: SCRYPT_QUEUE_LIMIT + 10 }, (_, i) => v.verify(`wrong-${i}`).then((p) => (hashed++, p)));
  // The main thread stays free meanwhile: a sha256 key answers while wrong keys are still hashed.
  assert.equal((await v.verify('random-key'))?.tenant, 'f');
  assert.ok(hashed < wrong.length, `${hashed} of ${wrong.length} wrong keys done before the sha256 key answered`);
  assert.deepEqual(new Set(await Promise.all(wrong)), new Set([undefined]));
  // Once the queue drained, a chosen key verifies (and is then remembered).
  assert.equal((await v.verify('chosen passphrase'))?.tenant, 't');
});

test('a truncated scrypt hash is refused at start-up and never matches a key', async () => {
  // Found by exploratory QA: "scrypt:<salt>:A" decodes to 0 bytes, and comparing scrypt's 0-byte
  // output with it let every key in, as that key's tenant and scopes.
  const salt = Buffer.alloc(16, 7).toString('base64');
  for (const hash of [`scrypt:${salt}:A`, `scrypt:${salt}:AAAA`, `scrypt:AAAA:${Buffer.alloc(32).toString('base64')}`]) {
    const auth = { mode: 'apiKey', apiKeys: [{ name: 'x', hash, tenant: 't', scopes: ['admin'] }] };
    assert.throws(() => loadConfig({ env: {}, overrides: { auth } }), /auth\.apiKeys\[0\]\.hash: a scrypt hash needs a salt of at least 16 bytes and a hash of 32 bytes/, hash);
    assert.equal(await createApiKeyVerifier([{ name: 'x', hash, tenant: 't', scopes: ['admin'] }]).verify('literally-anything'), undefined, hash);
  }
});

test('admit: tenant from the key, a matching or empty tenant header accepted, another refused, scopes enforced', async () => {
  const auth = createAuthenticator({ ...defaultAuthConfig(), mode: 'apiKey', apiKeys: [{ name: 'q', hash: hashApiKey('secret-q'), tenant: 'acme', scopes: ['query'] }] }, silentLogger());
  assert.equal((await auth.admit(headers({ 'x-api-key': 'secret-q' }), 'x-scope-orgid', 'query')).tenant, 'acme');
  assert.equal((await auth.admit(headers({ authorization: 'Bearer secret-q', 'x-scope-orgid': 'acme' }), 'X-Scope-OrgID', 'query')).tenant, 'acme');
  assert.equal((await auth.admit(headers({ authorization: 'ApiKey secret-q', 'x-scope-orgid': '' }), 'x-scope-orgid', 'query')).tenant, 'acme');
  const kind = (p: Promise<unknown>) => p.then(() => 'ok', (e: unknown) => (e instanceof AuthError ? e.kind : String(e)));
  assert.equal(await kind(auth.admit(headers({ 'x-api-key': 'secret-q', 'x-scope-orgid': 'other' }), 'x-scope-orgid', 'query')), 'forbidden');
  assert.equal(await kind(auth.admit(headers({ 'x-api-key': 'secret-q' }), 'x-scope-orgid', 'ingest')), 'forbidden');
  assert.equal(await kind(auth.admit(headers({ authorization: 'Basic eDp5' }), 'x-scope-orgid', 'query')), 'unauthenticated');
  assert.equal(await kind(auth.admit(headers({}), 'x-scope-orgid', 'query')), 'unauthenticated');
});

test('apiKey+jwt: a bearer API key with dots is looked up as a key; a bearer that decodes as a JWT is checked as one, and only as one', async () => {
  // Found by security QA: a key with dots, sent as `Authorization: Bearer`, had a JWT's shape and was refused.
  const secret = 'a-shared-secret-of-at-least-32-characters!';
  const dotted = 'tq.acme.k3y-0123456789';
  const dottedChosen = 'my.chosen.pass-phrase';
  const b64 = (json: unknown) => Buffer.from(JSON.stringify(json)).toString('base64url');
  // Has a JWT's header, so it is checked as a JWT (and fails its signature), never as the key it also is.
  const jwtLooking = `${b64({ alg: 'HS256' })}.${b64({ tenant: 'acme', exp: 4_000_000_000 })}.not-the-signature`;
  const auth = createAuthenticator(
    {
      ...defaultAuthConfig(),
      mode: 'apiKey+jwt',
      apiKeys: [
        { name: 'dotted', hash: hashApiKey(dotted), tenant: 'acme', scopes: ['query'] },
        { name: 'chosen', hash: hashApiKey(dottedChosen, 'scrypt'), tenant: 'beta', scopes: ['query'] },
        { name: 'jwt-looking', hash: hashApiKey(jwtLooking), tenant: 'acme', scopes: ['admin'] },
      ],
      jwt: { ...defaultAuthConfig().jwt, secret },
    },
    silentLogger(),
  );
  const admit = (authorization: string) =>
    auth.admit(headers({ authorization }), 'x-scope-orgid', 'query').then(
      (p) => `${p.method}:${p.tenant}`,
      (e: unknown) => (e instanceof AuthError ? e.kind : String(e)),
    );
  assert.equal(await admit(`Bearer ${dotted}`), 'apiKey:acme');
  assert.equal(await admit(`Bearer ${dottedChosen}`), 'apiKey:beta');
  const token = await new SignJWT({ tenant: 'gamma', scope: 'query' }).setProtectedHeader({ alg: 'HS256' }).setExpirationTime('5m').sign(new TextEncoder().encode(secret));
  assert.equal(await admit(`Bearer ${token}`), 'jwt:gamma');
  assert.equal(await admit(`Bearer ${jwtLooking}`), 'unauthenticated');
  assert.equal(await admit(`Bearer ${dotted}x`), 'unauthenticated');

  assert.equal(isJwt(token), true);
  for (const notJwt of [dotted, dottedChosen, 'a.b.c', `${b64({ typ: 'JWT' })}.e30.x`, `${b64([1])}.e30.x`, `${b64('alg')}.e30.x`, 'eyJhbGciOi.e30.x']) {
    assert.equal(isJwt(notJwt), false, notJwt);
  }
});

test('auth config mistakes stop start-up with the key named', () => {
  const bad: [unknown, RegExp][] = [
    [{ mode: 'magic' }, /auth\.mode: expected one of none\|apiKey\|jwt\|apiKey\+jwt/],
    [{ mode: 'apiKey' }, /auth\.apiKeys: auth\.mode is 'apiKey' but no key is configured/],
    [{ mode: 'apiKey', apiKeys: [{ name: 'x', hash: 'md5:abc', tenant: 't', scopes: ['query'] }] }, /auth\.apiKeys\[0\]\.hash: expected sha256/],
    [{ mode: 'apiKey', apiKeys: [{ name: 'x', hash: hashApiKey('k'), tenant: 't', scopes: ['root'] }] }, /auth\.apiKeys\[0\]\.scopes/],
    [{ mode: 'jwt' }, /set jwt\.secret or jwt\.jwksFile/],
    [{ mode: 'jwt', jwt: { secret: 'short' } }, /at least 32 characters/],
  ];
  for (const [auth, message] of bad) assert.throws(() => loadConfig({ env: {}, overrides: { auth } }), message);
  assert.throws(() => loadConfig({ env: {}, overrides: { tls: { certFile: 'a.pem' } } }), /tls: set both certFile and keyFile/);
  assert.throws(() => loadConfig({ env: {}, overrides: { limits: { graphql: { maxDepth: 0 } } } }), /limits\.graphql\.maxDepth: expected an integer greater than 0/);
  assert.equal(loadConfig({ env: { TELEQL_AUTH_MODE: 'jwt', TELEQL_JWT_SECRET: 'x'.repeat(32) } }).auth.mode, 'jwt');
});

test('auth off and a listener beyond loopback: one loud warning per exposed listener', () => {
  const lines: string[] = [];
  const logger = createRootLogger('info', new Writable({ write: (chunk: Buffer, _e, cb) => (lines.push(chunk.toString()), cb()) }));
  assert.deepEqual(warnIfExposed('none', { graphql: '0.0.0.0', 'otlp grpc': '127.0.0.1', 'otlp http': '::1' }, logger), ['graphql']);
  assert.equal(lines.length, 1);
  assert.match(lines[0]!, /SECURITY: auth\.mode is 'none' and the graphql listener is bound to 0\.0\.0\.0/);
  assert.deepEqual(warnIfExposed('apiKey', { graphql: '0.0.0.0' }, logger), []);
});

test('JWTs signed with a key from the JWKS file verify, and a rewritten file is read without a restart: a new key at once, a removed one within a second', async () => {
  // The file was read once at start: after an IdP's key rotation every token failed until a
  // restart, and a key removed after a leak stayed trusted.
  const dir = mkdtempSync(join(tmpdir(), 'teleql-jwks-'));
  try {
    const file = join(dir, 'jwks.json');
    const [a, b] = await Promise.all([generateKeyPair('ES256'), generateKeyPair('ES256')]);
    const jwk = async (key: CryptoKey | KeyObject, kid: string) => ({ ...(await exportJWK(key)), kid, alg: 'ES256', use: 'sig' });
    /** Written beside, then renamed over, as a sync job replaces it. */
    const publish = async (...keys: [CryptoKey | KeyObject, string][]) => {
      writeFileSync(`${file}.tmp`, JSON.stringify({ keys: await Promise.all(keys.map(([k, kid]) => jwk(k, kid))) }));
      renameSync(`${file}.tmp`, file);
    };
    await publish([a.publicKey, 'a']);
    const auth = createAuthenticator({ ...defaultAuthConfig(), mode: 'jwt', jwt: { ...defaultAuthConfig().jwt, jwksFile: file } }, silentLogger());
    const token = (key: CryptoKey | KeyObject, kid: string) =>
      new SignJWT({ tenant: 'rotating', scope: 'query' }).setProtectedHeader({ alg: 'ES256', kid }).setExpirationTime('5m').sign(key);
    const admit = async (t: string) =>
      auth.admit(headers({ authorization: `Bearer ${t}` }), 'x-scope-orgid', 'query').then(
        (p) => `${p.method}:${p.tenant}`,
        (e: unknown) => (e instanceof AuthError ? e.kind : String(e)),
      );
    const [byA, byB] = await Promise.all([token(a.privateKey, 'a'), token(b.privateKey, 'b')]);
    assert.equal(await admit(byA), 'jwt:rotating');
    assert.equal(await admit(byB), 'unauthenticated', 'key b is not published yet');
    await publish([a.publicKey, 'a'], [b.publicKey, 'b']);
    assert.equal(await admit(byB), 'jwt:rotating', 'a token naming the new key makes the file be read again');
    await publish([b.publicKey, 'b']);
    await new Promise((r) => setTimeout(r, 1100));
    assert.equal(await admit(byA), 'unauthenticated', 'the removed key is no longer trusted');
    assert.equal(await admit(byB), 'jwt:rotating');
    writeFileSync(file, '{"keys": [');
    await new Promise((r) => setTimeout(r, 1100));
    assert.equal(await admit(byB), 'jwt:rotating', 'a file caught halfway keeps the previous set');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a JWT principal is revoked once a reading of the JWKS file (a reload) no longer holds its signing key; a file that does not parse is logged without its content', async () => {
  // A JWT's tails outlived the removal of its signing key (a leaked key revoked) for the token's
  // whole lifetime; a broken file was ignored without a word.
  const dir = mkdtempSync(join(tmpdir(), 'teleql-jwks-revoke-'));
  try {
    const file = join(dir, 'jwks.json');
    const [a, b] = await Promise.all([generateKeyPair('ES256'), generateKeyPair('ES256')]);
    const jwk = async (key: CryptoKey | KeyObject, kid: string) => ({ ...(await exportJWK(key)), kid, alg: 'ES256', use: 'sig' });
    const publish = (text: string) => (writeFileSync(`${file}.tmp`, text), renameSync(`${file}.tmp`, file));
    publish(JSON.stringify({ keys: [await jwk(a.publicKey, 'a'), await jwk(b.publicKey, 'b')] }));
    const { logger, lines } = capturingLogger();
    const auth = createAuthenticator({ ...defaultAuthConfig(), mode: 'jwt', jwt: { ...defaultAuthConfig().jwt, jwksFile: file } }, logger);
    const token = (key: CryptoKey | KeyObject, kid: string) => new SignJWT({ tenant: 'rotating', scope: 'query' }).setProtectedHeader({ alg: 'ES256', kid }).setExpirationTime('1h').sign(key);
    const admit = async (key: CryptoKey | KeyObject, kid: string) => auth.admit(headers({ authorization: `Bearer ${await token(key, kid)}` }), 'x-scope-orgid', 'query');
    const [byA, byB] = [await admit(a.privateKey, 'a'), await admit(b.privateKey, 'b')];
    assert.ok(byA.revoked && byB.revoked && !byA.revoked.aborted);

    publish(JSON.stringify({ keys: [await jwk(b.publicKey, 'b')] }));
    auth.reloadJwks();
    await waitFor(async () => byA.revoked!.aborted, (aborted) => aborted, "key a's principal revoked");
    assert.equal(byB.revoked.aborted, false, "key b's principal stays");

    publish('{"keys":[{"kty":"EC","d":"PRIVATE-PART"');
    auth.reloadJwks();
    const warning = lines.find((l) => l.msg === 'JWKS file changed but cannot be used; the previous keys stay in force');
    assert.deepEqual([warning?.level, warning?.file], [40, file]);
    assert.doesNotMatch(JSON.stringify(lines), /PRIVATE-PART/);
    assert.equal((await admit(b.privateKey, 'b')).tenant, 'rotating', 'the previous keys stay');
    assert.match(JSON.stringify(auth.metrics()), /"value":1,"labels":\{"result":"failed"\}/);
    auth.reloadJwks();
    assert.equal(lines.filter((l) => l.msg === warning!.msg).length, 2, 'a reload reads a refused file again and says so again');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
