// TLS on every listener with a certificate made in the test by openssl, and mutual TLS on OTLP.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { startGateway, type TestGateway } from '../helpers/gateway.ts';
import { grpcExport } from '../helpers/otlp-grpc.ts';
import { spansJson, toProtobuf } from '../helpers/otlp-bodies.ts';

function makePki(dir: string) {
  const openssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '1', '-subj', '/CN=teleql test CA');
  writeFileSync(join(dir, 'server.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  for (const name of ['server', 'client']) {
    openssl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name === 'server' ? 'localhost' : 'otlp-client'}`);
    openssl('x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', `${name}.crt`, '-days', '1', ...(name === 'server' ? ['-extfile', 'server.ext'] : []));
  }
  const read = (f: string) => readFileSync(join(dir, f));
  return { ca: read('ca.crt'), clientCert: read('client.crt'), clientKey: read('client.key'), file: (f: string) => join(dir, f) };
}

function request(url: string, opts: https.RequestOptions, body?: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = https.request(url, opts, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (c: string) => (text += c)).on('end', () => resolve({ status: res.statusCode ?? 0, text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

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
    const res = await request(url, { method: 'POST', ca: pki.ca, headers: { 'content-type': 'application/json' } }, JSON.stringify({ query: '{ services }' }));
    assert.equal(res.status, 200);
    assert.deepEqual(JSON.parse(res.text), { data: { services: [] } });
    await assert.rejects(fetch(gw.graphqlUrl, { method: 'POST', body: '{}' }), 'plain HTTP is not answered');
    await assert.rejects(request(url, { method: 'GET' }), /self-signed|unable to verify|certificate/i, 'an untrusted client refuses the certificate');
  });

  test('OTLP/HTTP and OTLP/gRPC need a client certificate signed by the configured CA (mutual TLS)', async () => {
    const body = JSON.stringify(spansJson([{ name: 'over-tls' }]));
    const url = gw.otlpHttp.replace('http:', 'https:') + '/v1/traces';
    const withCert = await request(url, { method: 'POST', ca: pki.ca, cert: pki.clientCert, key: pki.clientKey, headers: { 'content-type': 'application/json' } }, body);
    assert.equal(withCert.status, 200);
    await assert.rejects(request(url, { method: 'POST', ca: pki.ca, headers: { 'content-type': 'application/json' } }, body), 'no client certificate: the handshake fails');

    const proto = toProtobuf('traces', JSON.parse(body));
    const ok = await grpcExport(gw.otlpGrpc, 'traces', proto, {}, grpc.credentials.createSsl(pki.ca, pki.clientKey, pki.clientCert));
    assert.equal(ok.code, grpc.status.OK, ok.details);
    const noCert = await grpcExport(gw.otlpGrpc, 'traces', proto, {}, grpc.credentials.createSsl(pki.ca));
    assert.equal(noCert.code, grpc.status.UNAVAILABLE);
    const plain = await grpcExport(gw.otlpGrpc, 'traces', proto);
    assert.equal(plain.code, grpc.status.UNAVAILABLE);
  });
});
