// A test PKI made by openssl in a directory: a CA, two server certificates for localhost and
// 127.0.0.1 (server2: what a renewal brings, same CA and names, another key) and a client one.
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export function makePki(dir: string) {
  const openssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '1', '-subj', '/CN=teleql test CA');
  writeFileSync(join(dir, 'server.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  // server2: the certificate a renewal brings (same CA and names, another key).
  for (const name of ['server', 'server2', 'client']) {
    const server = name !== 'client';
    openssl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${server ? 'localhost' : 'otlp-client'}`);
    openssl('x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', `${name}.crt`, '-days', server ? (name === 'server' ? '1' : '2') : '1', ...(server ? ['-extfile', 'server.ext'] : []));
  }
  const read = (f: string) => readFileSync(join(dir, f));
  return { ca: read('ca.crt'), clientCert: read('client.crt'), clientKey: read('client.key'), file: (f: string) => join(dir, f) };
}
