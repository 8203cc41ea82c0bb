// TLS on every listener with a certificate made in the test by openssl (helpers/pki.ts), mutual TLS on OTLP, and renewed files served.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { copyFileSync, mkdtempSync, readFileSync, renameSync, rmSync } from 'node:fs';
import tls from 'node:tls';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { startGateway, testConfig, type TestGateway } from '../helpers/gateway.ts';
import { capturingLogger } from '../helpers/capturing-logger.ts';
import { buildApp } from '../../src/app.ts';
import { grpcExport } from '../helpers/otlp-grpc.ts';
import { spansJson, toProtobuf } from '../helpers/otlp-bodies.ts';
import { waitFor } from '../helpers/wait-for.ts';
import { makePki } from '../helpers/pki.ts';
import { httpsText } from '../helpers/https-request.ts';


describe('TLS', () => {
  let dir: string;
  let pki: ReturnType<typeof makePki>;
  let gw: TestGateway;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'teleql-tls-'));
    pki = makePki(dir);
    gw = await startGateway({ tls: { certFile: pki.file('server.crt'), keyFile: pki.file('server.key'), clientCaFile: pki.file('ca.crt'), requireClientCert: true } });
  });
  after(async () => {
    await gw?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test('GraphQL is served over HTTPS only', async () => {
    const url = gw.graphqlUrl.replace('http:', 'https:');
    const res = await httpsText(url, { method: 'POST', ca: pki.ca, headers: { 'content-type': 'application/json' } }, JSON.stringify({ query: '{ services }' }));
    assert.equal(res.status, 200);
    assert.deepEqual(JSON.parse(res.text), { data: { services: [] } });
    await assert.rejects(fetch(gw.graphqlUrl, { method: 'POST', body: '{}' }), 'plain HTTP is not answered');
    await assert.rejects(httpsText(url, { method: 'GET' }), /self-signed|unable to verify|certificate/i, 'an untrusted client refuses the certificate');
  });

  test('OTLP/HTTP and OTLP/gRPC need a client certificate signed by the configured CA (mutual TLS)', async () => {
    const body = JSON.stringify(spansJson([{ name: 'over-tls' }]));
    const url = gw.otlpHttp.replace('http:', 'https:') + '/v1/traces';
    const withCert = await httpsText(url, { method: 'POST', ca: pki.ca, cert: pki.clientCert, key: pki.clientKey, headers: { 'content-type': 'application/json' } }, body);
    assert.equal(withCert.status, 200);
    await assert.rejects(httpsText(url, { method: 'POST', ca: pki.ca, headers: { 'content-type': 'application/json' } }, body), 'no client certificate: the handshake fails');

    const proto = toProtobuf('traces', JSON.parse(body));
    const ok = await grpcExport(gw.otlpGrpc, 'traces', proto, {}, grpc.credentials.createSsl(pki.ca, pki.clientKey, pki.clientCert));
    assert.equal(ok.code, grpc.status.OK, ok.details);
    const noCert = await grpcExport(gw.otlpGrpc, 'traces', proto, {}, grpc.credentials.createSsl(pki.ca));
    assert.equal(noCert.code, grpc.status.UNAVAILABLE);
    const plain = await grpcExport(gw.otlpGrpc, 'traces', proto);
    assert.equal(plain.code, grpc.status.UNAVAILABLE);
  });
});

describe('TLS files are read again when they change', () => {
  let dir: string;
  let pki: ReturnType<typeof makePki>;
  let gw: TestGateway;
  const live = (f: string) => join(dir, `live.${f}`);
  /** Replaced as a renewal does: written beside, then renamed over (a reader never sees half a file). */
  const install = (from: string, to: string) => (copyFileSync(from, `${to}.tmp`), renameSync(`${to}.tmp`, to));
  const fingerprintOf = (file: string) => new X509Certificate(readFileSync(file)).fingerprint256;
  /** The certificate a new TLS connection to host:port is given. */
  const served = (hostPort: string) =>
    new Promise<string>((resolve, reject) => {
      const url = new URL(`https://${hostPort.replace(/^\w+:\/\//, '')}`);
      const socket = tls.connect({ host: url.hostname, port: Number(url.port), servername: 'localhost', rejectUnauthorized: false, ALPNProtocols: ['h2', 'http/1.1'] }, () => {
        resolve(socket.getPeerCertificate().fingerprint256);
        socket.destroy();
      });
      socket.once('error', reject);
    });
  const listeners = () => [gw.graphqlUrl, gw.otlpHttp, gw.otlpGrpc];
  const metrics = async () => (await httpsText(gw.graphqlUrl.replace('http:', 'https:').replace('/graphql', '/metrics'), { ca: pki.ca })).text;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'teleql-tls-reload-'));
    pki = makePki(dir);
    install(pki.file('server.crt'), live('crt'));
    install(pki.file('server.key'), live('key'));
    gw = await startGateway({ tls: { certFile: live('crt'), keyFile: live('key'), reloadIntervalMs: 50 } });
  });
  after(async () => {
    await gw?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test('a renewed certificate is served by every listener to new connections, open ones keep going; a half-written renewal is not served', async () => {
    const [first, second] = [fingerprintOf(pki.file('server.crt')), fingerprintOf(pki.file('server2.crt'))];
    assert.deepEqual(await Promise.all(listeners().map(served)), [first, first, first]);
    assert.match(await metrics(), new RegExp(`teleql_tls_certificate_not_after_seconds ${Date.parse(new X509Certificate(readFileSync(pki.file('server.crt'))).validTo) / 1000}\n`));
    // A connection opened before the renewal, used after it.
    const url = new URL(gw.graphqlUrl);
    const open = await new Promise<tls.TLSSocket>((resolve, reject) => {
      const socket = tls.connect({ host: url.hostname, port: Number(url.port), ca: pki.ca, servername: 'localhost' }, () => resolve(socket));
      socket.once('error', reject);
    });

    // Halfway: the new certificate beside the old key is not a pair. It is not served; the old one stays.
    install(pki.file('server2.crt'), live('crt'));
    await waitFor(metrics, (m) => /teleql_tls_reloads_total\{result="failed"\} [1-9]/.test(m), 'the failed reload');
    assert.deepEqual(await Promise.all(listeners().map(served)), [first, first, first]);

    // The key arrives: every listener serves the new certificate.
    install(pki.file('server2.key'), live('key'));
    await waitFor(() => Promise.all(listeners().map(served)), (got) => got.every((f) => f === second), 'the renewed certificate on every listener');
    const m = await metrics();
    assert.match(m, /teleql_tls_reloads_total\{result="ok"\} 1\n/);
    assert.match(m, new RegExp(`teleql_tls_certificate_not_after_seconds ${Date.parse(new X509Certificate(readFileSync(pki.file('server2.crt'))).validTo) / 1000}\n`));

    // The connection opened before the renewal keeps its certificate and is still served, and clients
    // trusting the CA talk to the renewed listeners.
    assert.equal(open.getPeerCertificate().fingerprint256, first);
    const answer = await new Promise<string>((resolve) => {
      let text = '';
      open.setEncoding('utf8').on('data', (d: string) => (text += d) && /\r\n\r\n/.test(text) && resolve(text));
      open.write('GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n');
    });
    assert.match(answer, /^HTTP\/1\.1 200 /);
    open.destroy();
    assert.equal((await httpsText(gw.graphqlUrl.replace('http:', 'https:'), { method: 'POST', ca: pki.ca, headers: { 'content-type': 'application/json' } }, JSON.stringify({ query: '{ __typename }' }))).status, 200);
    const body = JSON.stringify(spansJson([{ name: 'after-renewal', service: 'tls-reload' }]));
    const overHttp = await httpsText(gw.otlpHttp.replace('http:', 'https:') + '/v1/traces', { method: 'POST', ca: pki.ca, headers: { 'content-type': 'application/json' } }, body);
    assert.equal(overHttp.status, 200);
    const overGrpc = await grpcExport(gw.otlpGrpc, 'traces', toProtobuf('traces', JSON.parse(body)), {}, grpc.credentials.createSsl(pki.ca));
    assert.equal(overGrpc.code, grpc.status.OK, overGrpc.details);
  });

  test('with tls.reloadIntervalMs 0, a renewal is served once the gateway is told to reload (SIGHUP), not before', async () => {
    const renewDir = mkdtempSync(join(tmpdir(), 'teleql-tls-hup-'));
    const file = (f: string) => join(renewDir, `live.${f}`);
    install(pki.file('server.crt'), file('crt'));
    install(pki.file('server.key'), file('key'));
    const quiet = await startGateway({ tls: { certFile: file('crt'), keyFile: file('key'), reloadIntervalMs: 0 } });
    try {
      const [first, second] = [fingerprintOf(pki.file('server.crt')), fingerprintOf(pki.file('server2.crt'))];
      install(pki.file('server2.crt'), file('crt'));
      install(pki.file('server2.key'), file('key'));
      const hosts = [quiet.graphqlUrl, quiet.otlpHttp, quiet.otlpGrpc];
      assert.deepEqual(await Promise.all(hosts.map(served)), [first, first, first], 'no polling: still the first certificate');
      await quiet.app.reload();
      assert.deepEqual(await Promise.all(hosts.map(served)), [second, second, second]);
    } finally {
      await quiet.stop();
      rmSync(renewDir, { recursive: true, force: true });
    }
  });

  test('refused files are reported as refused by every later SIGHUP while they are on disk, not as unchanged', async () => {
    // The second SIGHUP said "unchanged" while the refused pair was still on disk and the old certificate served.
    const renewDir = mkdtempSync(join(tmpdir(), 'teleql-tls-refused-'));
    const file = (f: string) => join(renewDir, `live.${f}`);
    install(pki.file('server.crt'), file('crt'));
    install(pki.file('server.key'), file('key'));
    const { logger, lines } = capturingLogger();
    const app = buildApp(testConfig({ tls: { certFile: file('crt'), keyFile: file('key'), reloadIntervalMs: 0 } }), { logger });
    await app.start();
    const gauge = async () => /^teleql_tls_files_refused (\d)$/m.exec((await httpsText(`https://${app.addresses().graphql}/metrics`, { ca: pki.ca })).text)?.[1];
    const summaries = () => lines.filter((l) => 'apiKeys' in l).map((l) => [l.tls, l.level]);
    try {
      const [first, second] = [fingerprintOf(pki.file('server.crt')), fingerprintOf(pki.file('server2.crt'))];
      install(pki.file('server2.crt'), file('crt')); // the renewal caught halfway: the new certificate, the old key
      await app.reload();
      await app.reload();
      assert.deepEqual(summaries(), [['failed', 40], ['failed', 40]]);
      assert.equal(lines.filter((l) => l.msg === 'TLS files changed but cannot be served; the previous certificate stays').length, 2, 'each SIGHUP read them again');
      assert.equal(await gauge(), '1');
      assert.equal(await served(app.addresses().graphql), first);
      install(pki.file('server2.key'), file('key'));
      await app.reload();
      assert.deepEqual(summaries().at(-1), ['renewed', 30]);
      assert.equal(await gauge(), '0');
      assert.equal(await served(app.addresses().graphql), second);
    } finally {
      await app.stop();
      rmSync(renewDir, { recursive: true, force: true });
    }
  });

  test('a key that is not the certificate\'s stops start-up naming tls.keyFile', async () => {
    await assert.rejects(startGateway({ tls: { certFile: pki.file('server.crt'), keyFile: pki.file('server2.key') } }), (err: Error) => {
      assert.match(err.message, /^tls\.keyFile: .*server2\.key with .*server\.crt: .*key values mismatch/);
      return true;
    });
  });
});
