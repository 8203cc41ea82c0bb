// SIGHUP on a real `teleql serve` process: a config that would not start is refused as start-up
// refuses it, API keys follow the list whatever else changed, restart-only changes are named, and
// the JWKS file's keys are re-read (its removed keys' tails closed, a broken file said).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { waitFor } from '../helpers/wait-for.ts';
import { logLines, serve, untilReady, withServeSetup, type Served, type ServeSetup } from '../helpers/teleql-serve.ts';
import { hashApiKey } from '../../src/auth/api-keys.ts';

const KEYS = { ingest: 'reload-ingest-0123456789abcdef', query: 'reload-query-0123456789abcdef', metrics: 'reload-metrics-0123456789abcdef' };

/** A config in `apiKey+jwt` mode with the given key names, then `extra` YAML. */
function configText(setup: ServeSetup, opts: { mode?: string; keys?: (keyof typeof KEYS)[]; jwks?: string; extra?: string } = {}): string {
  const scopes = { ingest: 'ingest', query: 'query', metrics: 'metrics' };
  const keys = (opts.keys ?? ['ingest', 'query', 'metrics']).map((k) => `    - { name: ${k}, hash: "${hashApiKey(KEYS[k])}", tenant: team-a, scopes: [${scopes[k]}] }\n`).join('');
  return (
    `auth:\n  mode: ${opts.mode ?? 'apiKey+jwt'}\n  apiKeys:\n${keys}` +
    `  jwt: { jwksFile: ${opts.jwks ?? join(setup.dir, 'jwks.json')}, tenantClaim: tenant, scopesClaim: scope }\n` +
    `storage:\n  duckdb:\n    path: ":memory:"\n${opts.extra ?? ''}`
  );
}

/** Sends SIGHUP and waits for that reload's summary line (every reload ends with one). */
async function hup(gw: Served): Promise<Record<string, unknown>> {
  const summaries = () => logLines(gw).filter((l) => 'apiKeys' in l);
  const before = summaries().length;
  gw.child.kill('SIGHUP');
  await waitFor(async () => summaries().length, (n) => n === before + 1, 'the reload summary');
  return summaries().at(-1)!;
}

const ingestStatus = (setup: ServeSetup, key: string) =>
  fetch(`http://127.0.0.1:${setup.http}/v1/logs`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` }, body: '{}' }).then((r) => r.status);
const metrics = (setup: ServeSetup) => fetch(`http://127.0.0.1:${setup.graphql}/metrics`, { headers: { authorization: `Bearer ${KEYS.metrics}` } }).then((r) => r.text());

/** An ES256 signing key published in the JWKS file under `kid`. */
async function signingKey(kid: string) {
  const { publicKey, privateKey } = await generateKeyPair('ES256');
  return {
    jwk: { ...(await exportJWK(publicKey)), kid, alg: 'ES256', use: 'sig' },
    token: () => new SignJWT({ tenant: 'team-a', scope: 'query' }).setProtectedHeader({ alg: 'ES256', kid }).setExpirationTime('1h').sign(privateKey),
  };
}
/** Written beside, then renamed over, as a sync job replaces it. */
function publish(file: string, text: string): void {
  writeFileSync(`${file}.tmp`, text);
  renameSync(`${file}.tmp`, file);
}

test('a SIGHUP refuses a config that would not start (a JWKS, TLS or rules file it cannot read) with start-up\'s message, applies nothing, and the gauge says so', () =>
  withServeSetup(async (setup) => {
    // These reloads counted as ok and applied their API keys; the next restart exited 2.
    const { dir, config, env } = setup;
    const a = await signingKey('a');
    writeFileSync(join(dir, 'jwks.json'), JSON.stringify({ keys: [a.jwk] }));
    writeFileSync(join(dir, 'rules.yaml'), 'rules: []\n');
    const rules = `alerting:\n  rulesFile: ${join(dir, 'rules.yaml')}\n`;
    writeFileSync(config, configText(setup, { extra: rules }));
    const gw = serve(['--config', config], env);
    try {
      await untilReady(gw, setup.graphql);
      assert.equal(await ingestStatus(setup, KEYS.ingest), 200);
      const missing = (f: string) => join(dir, f);
      for (const [edit, message] of [
        [{ jwks: missing('gone-jwks.json'), extra: rules }, `auth.jwt.jwksFile: cannot read ${missing('gone-jwks.json')}: no such file`],
        [{ extra: `${rules}tls: { certFile: ${missing('gone.crt')}, keyFile: ${missing('gone.key')} }\n` }, `tls.certFile: cannot read ${missing('gone.crt')}: no such file`],
        [{ extra: `alerting:\n  rulesFile: ${missing('gone-rules.yaml')}\n` }, `alerting.rulesFile: cannot read ${missing('gone-rules.yaml')}: no such file`],
      ] as const) {
        // The ingest key removed in the same edit: a refused config applies none of it.
        writeFileSync(config, configText(setup, { keys: ['query', 'metrics'], ...edit }));
        const summary = await hup(gw);
        assert.deepEqual([summary.level, summary.apiKeys], [40, 'refused'], message);
        const error = logLines(gw).findLast((l) => l.msg === 'the config does not load or would not start (err says why); nothing from it was applied');
        assert.equal(error?.err, message);
        assert.equal(await ingestStatus(setup, KEYS.ingest), 200, 'the removed key still works: nothing was applied');
        const m = await metrics(setup);
        assert.match(m, /^teleql_config_last_reload_successful 0$/m);
      }
      assert.match(await metrics(setup), /^teleql_config_reloads_total\{result="failed"\} 3$/m);
      // The config as started loads again: the gauge goes back to 1.
      writeFileSync(config, configText(setup, { extra: rules }));
      assert.equal((await hup(gw)).level, 30);
      assert.match(await metrics(setup), /^teleql_config_last_reload_successful 1$/m);
    } finally {
      gw.child.kill('SIGTERM');
      await gw.exited;
    }

    // Start-up gives the same message, naming alerting.rulesFile (it gave the path and ENOENT), and
    // stops before the store created its file.
    const data = join(dir, 'left-behind.duckdb');
    writeFileSync(config, configText(setup, { extra: `alerting:\n  rulesFile: ${join(dir, 'gone-rules.yaml')}\n` }).replace('":memory:"', data));
    const start = serve(['--config', config], env);
    assert.equal(await start.exited, 2, start.output());
    assert.equal(start.output().split('\n').filter((l) => l !== '' && !l.startsWith('{')).join('\n'), `teleql: alerting.rulesFile: cannot read ${join(dir, 'gone-rules.yaml')}: no such file`);
    assert.equal(existsSync(data), false, 'no DuckDB file left behind');
  }));

test('a key removed in the same edit as an auth.mode change is refused at that SIGHUP; every changed setting a restart applies is named', () =>
  withServeSetup(async (setup) => {
    // The mode change made the reload skip the keys: the removed key stayed valid, reported as ok.
    const { dir, config, env } = setup;
    writeFileSync(join(dir, 'jwks.json'), JSON.stringify({ keys: [(await signingKey('a')).jwk] }));
    writeFileSync(config, configText(setup));
    const gw = serve(['--config', config], env);
    try {
      await untilReady(gw, setup.graphql);
      assert.equal(await ingestStatus(setup, KEYS.ingest), 200);
      writeFileSync(config, configText(setup, { mode: 'apiKey', keys: ['query', 'metrics'], extra: 'limits:\n  graphql:\n    requestsPerSecond: 5\n' }));
      const summary = await hup(gw);
      assert.deepEqual([summary.level, summary.apiKeys], [30, 2]);
      assert.equal(await ingestStatus(setup, KEYS.ingest), 401, 'the removed key is refused');
      assert.equal(await ingestStatus(setup, KEYS.query), 403, 'a listed key still authenticates');
      const atRestart = logLines(gw).filter((l) => Array.isArray(l.settings));
      assert.equal(atRestart.length, 1, 'one line per reload');
      assert.deepEqual([...(atRestart[0]!.settings as string[])].sort(), ['auth.mode', 'limits.graphql.requestsPerSecond']);
      assert.equal(atRestart[0]!.level, 40);
      assert.match(String(atRestart[0]!.msg), /^changed in the config, taking effect at a restart: /);
      assert.match(await metrics(setup), /^teleql_config_last_reload_successful 1$/m);

      // Another SIGHUP: what is still not applied is named again (it differs from what runs).
      await hup(gw);
      assert.equal(logLines(gw).filter((l) => Array.isArray(l.settings)).length, 2, 'the still-unapplied settings are named again');
    } finally {
      gw.child.kill('SIGTERM');
      await gw.exited;
    }
  }));

test('tails opened with a JWT are closed when its signing key leaves the JWKS file, as a removed API key\'s are; a JWKS file that does not parse is logged and counted', () =>
  withServeSetup(async (setup) => {
    // Both kept streaming until the token's exp (up to its lifetime); a broken file was ignored silently.
    const { dir, config, env, graphql } = setup;
    const jwks = join(dir, 'jwks.json');
    const [a, b] = [await signingKey('a'), await signingKey('b')];
    publish(jwks, JSON.stringify({ keys: [a.jwk, b.jwk] }));
    writeFileSync(config, configText(setup));
    const gw = serve(['--config', config], env);
    try {
      await untilReady(gw, graphql);
      const [tokenA, tokenB] = [await a.token(), await b.token()];
      const ws = (token: string) => {
        let closed: { code: number; reason: string } | undefined;
        const client = createClient({
          url: `ws://127.0.0.1:${graphql}/graphql`,
          webSocketImpl: WebSocket,
          connectionParams: { Authorization: `Bearer ${token}` },
          retryAttempts: 0,
          on: { closed: (e) => void (closed = e as { code: number; reason: string }) },
        });
        let subscribed!: () => void;
        const up = new Promise<void>((resolve) => (subscribed = resolve));
        client.subscribe({ query: 'subscription { tailLogs { dropped } }' }, { next: () => {}, error: () => {}, complete: () => {} });
        client.on('connected', () => subscribed());
        return { client, up, closed: () => closed };
      };
      const [wsA, wsB] = [ws(tokenA), ws(tokenB)];
      const sse = await fetch(`http://127.0.0.1:${graphql}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'text/event-stream', authorization: `Bearer ${tokenA}` },
        body: JSON.stringify({ query: 'subscription { tailLogs { dropped } }' }),
      });
      assert.equal(sse.status, 200);
      const sseEnded = (async () => {
        const reader = sse.body!.getReader();
        try {
          while (!(await reader.read()).done);
        } catch {
          // cut, as a removed API key's streams are
        }
        return true;
      })();
      await Promise.all([wsA.up, wsB.up]);

      publish(jwks, JSON.stringify({ keys: [b.jwk] }));
      await hup(gw);
      await waitFor(async () => wsA.closed(), (c) => c !== undefined, "key a's graphql-ws connection closed");
      assert.deepEqual([wsA.closed()!.code, wsA.closed()!.reason], [4401, 'GW_UNAUTHENTICATED: the credential was revoked']);
      assert.equal(await sseEnded, true, "key a's SSE stream ended");
      assert.equal(wsB.closed(), undefined, "key b's connection stays");
      const answer = await new Promise<unknown>((resolve, reject) => wsB.client.subscribe({ query: '{ __typename }' }, { next: resolve, error: reject, complete: () => {} }));
      assert.deepEqual(answer, { data: { __typename: 'Query' } });
      await Promise.all([wsA.client.dispose(), wsB.client.dispose()]);

      // A file caught halfway (or with key material in it): logged, naming the file and not quoting
      // it, counted; the previous keys stay. Seen at the next look (a token, at most once a second).
      publish(jwks, '{"keys":[{"kty":"EC","d":"PRIVATE-PART-NEVER-LOGGED" broken');
      await new Promise((r) => setTimeout(r, 1100));
      const query = (token: string) =>
        fetch(`http://127.0.0.1:${graphql}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body: '{"query":"{ __typename }"}' }).then((r) => r.status);
      assert.equal(await query(tokenB), 200, 'the previous keys stay in force');
      const warning = await waitFor(async () => logLines(gw).find((l) => l.msg === 'JWKS file changed but cannot be used; the previous keys stay in force'), (l) => l !== undefined, 'the warning');
      assert.equal(warning!.level, 40);
      assert.equal(warning!.file, jwks);
      assert.match(String(warning!.err), new RegExp(`^auth\\.jwt\\.jwksFile: ${jwks.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} is not JSON`));
      assert.doesNotMatch(gw.output(), /PRIVATE-PART/);
      assert.match(await metrics(setup), /^teleql_auth_jwks_reloads_total\{result="failed"\} 1$/m);
      assert.equal(await query(tokenA), 401, 'the removed key stays removed');
    } finally {
      gw.child.kill('SIGTERM');
      await gw.exited;
    }
  }));
