// What the TLS files must hold, checked at start-up and on every reload (each problem naming its
// setting), the handshake bounded by limits.connections, and mutual TLS refusals logged and counted.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildApp } from '../../src/app.ts';
import { startGateway, testConfig, type TestGateway } from '../helpers/gateway.ts';
import { capturingLogger } from '../helpers/capturing-logger.ts';
import { spansJson } from '../helpers/otlp-bodies.ts';
import { makePki } from '../helpers/pki.ts';
import { httpsText } from '../helpers/https-request.ts';

/** makePki's files plus what goes wrong in the field: an ECDSA pair, encrypted keys, a stranger's client certificate, files that are not PEM certificates. */
function makeBadFiles(dir: string) {
  const pki = makePki(dir);
  const openssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  openssl('ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', 'ec.key');
  openssl('req', '-x509', '-key', 'ec.key', '-out', 'ec.crt', '-days', '1', '-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost');
  openssl('pkey', '-in', 'server.key', '-aes256', '-passout', 'pass:secret', '-out', 'enc-pkcs8.key');
  openssl('rsa', '-in', 'server.key', '-aes256', '-passout', 'pass:secret', '-traditional', '-out', 'enc-trad.key');
  openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'stranger.key', '-out', 'stranger.crt', '-days', '1', '-subj', '/CN=stranger');
  writeFileSync(join(dir, 'garbage.crt'), '-----BEGIN CERTIFICATE-----\nthis is not base64 at all!!\n-----END CERTIFICATE-----\n');
  writeFileSync(join(dir, 'text.crt'), 'not a certificate\n');
  writeFileSync(join(dir, 'empty.pem'), '');
  writeFileSync(join(dir, 'ca-and-garbage.crt'), Buffer.concat([readFileSync(join(dir, 'ca.crt')), readFileSync(join(dir, 'garbage.crt'))]));
  return pki;
}

const rejectsWith = (tlsConfig: Record<string, unknown>, message: RegExp) =>
  assert.rejects(startGateway({ tls: tlsConfig }), (err: Error) => {
    assert.match(err.message, message);
    return true;
  });

describe('TLS files are checked for what they hold, naming the setting', () => {
  let dir: string;
  let pki: ReturnType<typeof makePki>;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'teleql-tls-checks-'));
    pki = makeBadFiles(dir);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('a key of another algorithm than the certificate stops start-up naming tls.keyFile', async () => {
    await rejectsWith({ certFile: pki.file('server.crt'), keyFile: pki.file('ec.key') }, /^tls\.keyFile: .*ec\.key with .*server\.crt: key values mismatch \(an ec key for an rsa certificate\)/);
    await rejectsWith({ certFile: pki.file('ec.crt'), keyFile: pki.file('server.key') }, /^tls\.keyFile: .*server\.key with .*ec\.crt: key values mismatch \(an rsa key for an ec certificate\)/);
  });

  test('a client CA file without a parseable certificate stops start-up naming tls.clientCaFile', async () => {
    const mtls = (ca: string) => ({ certFile: pki.file('server.crt'), keyFile: pki.file('server.key'), clientCaFile: pki.file(ca), requireClientCert: true });
    for (const ca of ['text.crt', 'empty.pem', 'ca.key']) await rejectsWith(mtls(ca), new RegExp(`^tls\\.clientCaFile: .*${ca.replace('.', '\\.')} contains no PEM certificate`));
    for (const ca of ['garbage.crt', 'ca-and-garbage.crt']) await rejectsWith(mtls(ca), /^tls\.clientCaFile: .*garbage\.crt: certificate \d of \d is not a valid PEM certificate/);
  });

  test('a certificate file that holds no certificate is blamed on tls.certFile; an encrypted key says so', async () => {
    for (const cert of ['text.crt', 'empty.pem', 'server.key']) await rejectsWith({ certFile: pki.file(cert), keyFile: pki.file('server.key') }, /^tls\.certFile: .* contains no PEM certificate/);
    await rejectsWith({ certFile: pki.file('garbage.crt'), keyFile: pki.file('server.key') }, /^tls\.certFile: .*garbage\.crt: certificate 1 of 1 is not a valid PEM certificate/);
    for (const key of ['enc-pkcs8.key', 'enc-trad.key']) {
      await rejectsWith({ certFile: pki.file('server.crt'), keyFile: pki.file(key) }, /^tls\.keyFile: .*enc-\w+\.key is an encrypted private key; teleql needs an unencrypted one/);
    }
  });

  test('a client CA without requireClientCert is refused at start-up: it would verify nothing', async () => {
    await rejectsWith({ certFile: pki.file('server.crt'), keyFile: pki.file('server.key'), clientCaFile: pki.file('ca.crt') }, /^tls\.clientCaFile: .*set tls\.requireClientCert: true/);
  });

  test('a reload interval past a timer\'s range is refused at start-up, naming the maximum', async () => {
    await rejectsWith({ certFile: pki.file('server.crt'), keyFile: pki.file('server.key'), reloadIntervalMs: 2 ** 31 }, /^tls\.reloadIntervalMs: expected an integer from 0 to 2147483647 /);
  });

  test('a reload bringing a key of another algorithm, or a CA file without a certificate, is not served: the previous files stay', async () => {
    const live = (f: string) => join(dir, `live.${f}`);
    const install = (from: string, to: string) => (copyFileSync(pki.file(from), `${to}.tmp`), renameSync(`${to}.tmp`, to));
    install('server.crt', live('crt'));
    install('server.key', live('key'));
    install('ca.crt', live('ca'));
    const gw = await startGateway({ tls: { certFile: live('crt'), keyFile: live('key'), clientCaFile: live('ca'), requireClientCert: true, reloadIntervalMs: 0 } });
    try {
      const metrics = async () => (await httpsText(gw.graphqlUrl.replace('http:', 'https:').replace('/graphql', '/metrics'), { ca: pki.ca })).text;
      const served = () => certificateServed(gw.otlpHttp);
      const first = new X509Certificate(readFileSync(pki.file('server.crt'))).fingerprint256;

      install('ec.key', live('key'));
      await gw.app.reload();
      assert.match(await metrics(), /teleql_tls_reloads_total\{result="failed"\} 1\n/);
      assert.match(await metrics(), /teleql_tls_reloads_total\{result="ok"\} 0\n/);
      assert.equal(await served(), first);

      install('server.key', live('key'));
      install('garbage.crt', live('ca'));
      await gw.app.reload();
      assert.match(await metrics(), /teleql_tls_reloads_total\{result="failed"\} 2\n/);
      // The previous CA stays: a client it signed still delivers.
      const body = JSON.stringify(spansJson([{ name: 'after-bad-ca' }]));
      const res = await httpsText(gw.otlpHttp.replace('http:', 'https:') + '/v1/traces', { method: 'POST', ca: pki.ca, cert: pki.clientCert, key: pki.clientKey, headers: { 'content-type': 'application/json' } }, body);
      assert.equal(res.status, 200);
    } finally {
      await gw.stop();
    }
  });
});

describe('TLS handshakes and mutual TLS refusals', () => {
  let dir: string;
  let pki: ReturnType<typeof makePki>;
  let gw: TestGateway;
  const logged = capturingLogger();

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'teleql-tls-refusals-'));
    pki = makeBadFiles(dir);
    const cfg = testConfig({
      tls: { certFile: pki.file('server.crt'), keyFile: pki.file('server.key'), clientCaFile: pki.file('ca.crt'), requireClientCert: true },
      limits: { connections: { httpHeadersTimeoutMs: 300, httpRequestTimeoutMs: 1000 } },
    });
    const app = buildApp(cfg, { logger: logged.logger });
    await app.start();
    const a = app.addresses();
    gw = { app, graphqlUrl: `http://${a.graphql}/graphql`, wsUrl: '', otlpGrpc: a.otlpGrpc!, otlpHttp: `http://${a.otlpHttp!}`, stop: () => app.stop() };
  });
  after(async () => {
    await gw?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test('a connection that never starts its TLS handshake is closed after limits.connections.httpHeadersTimeoutMs, not node\'s 120 s', async () => {
    for (const hostPort of [gw.graphqlUrl, gw.otlpHttp]) {
      const url = new URL(hostPort);
      const socket = net.connect(Number(url.port), url.hostname);
      const closed = new Promise<boolean>((resolve) => socket.once('close', () => resolve(true)));
      // Far above the 300 ms configured, far below node's 120 s default.
      const waited = new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 10_000).unref());
      assert.equal(await Promise.race([closed, waited]), true, `${hostPort}: the silent connection is closed`);
      socket.destroy();
    }
  });

  test('a client certificate refused by mutual TLS is logged with the reason and counted on /metrics', async () => {
    const body = JSON.stringify(spansJson([{ name: 'stranger' }]));
    const url = gw.otlpHttp.replace('http:', 'https:') + '/v1/traces';
    await assert.rejects(httpsText(url, { method: 'POST', ca: pki.ca, cert: readFileSync(pki.file('stranger.crt')), key: readFileSync(pki.file('stranger.key')), headers: { 'content-type': 'application/json' } }, body));
    await assert.rejects(httpsText(url, { method: 'POST', ca: pki.ca, headers: { 'content-type': 'application/json' } }, body), 'no certificate at all');
    const ok = await httpsText(url, { method: 'POST', ca: pki.ca, cert: pki.clientCert, key: pki.clientKey, headers: { 'content-type': 'application/json' } }, body);
    assert.equal(ok.status, 200, 'a certificate the CA signed is still accepted');

    const warning = logged.lines.find((l) => l.msg === 'client certificate refused (mutual TLS, tls.clientCaFile)');
    assert.ok(warning, 'the refusal is logged');
    assert.equal(warning.level, 40);
    assert.equal(warning.reason, 'DEPTH_ZERO_SELF_SIGNED_CERT');
    assert.equal(warning.subject, 'stranger');
    assert.equal(logged.lines.filter((l) => l.msg === warning.msg).length, 1, 'one warning per interval; the next carries the count');
    const metrics = (await httpsText(gw.graphqlUrl.replace('http:', 'https:').replace('/graphql', '/metrics'), { ca: pki.ca })).text;
    assert.match(metrics, /teleql_tls_client_certificates_refused_total\{reason="DEPTH_ZERO_SELF_SIGNED_CERT"\} 1\n/);
    assert.match(metrics, /teleql_tls_client_certificates_refused_total\{reason="NO_CLIENT_CERTIFICATE"\} 1\n/);
  });
});


/** The certificate a new TLS connection to `hostPort` is given. */
function certificateServed(hostPort: string): Promise<string> {
  const url = new URL(hostPort);
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: url.hostname, port: Number(url.port), servername: 'localhost', rejectUnauthorized: false }, () => {
      resolve(socket.getPeerCertificate().fingerprint256);
      socket.destroy();
    });
    socket.once('error', reject);
  });
}
