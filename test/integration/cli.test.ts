// The `teleql` command's small subcommands, as a real process: hash-key, --version, serve --help.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createApiKeyVerifier, hashApiKey } from '../../src/auth/api-keys.ts';
import { loadConfig } from '../../src/config/load.ts';

const BIN = new URL('../../bin/teleql.js', import.meta.url).pathname;
const run = (args: string[], input = '') => spawnSync(process.execPath, [BIN, ...args], { input, encoding: 'utf8' });

test('hash-key writes the auth.apiKeys hash of a key from stdin, or of a new random key', () => {
  const sha = run(['hash-key'], 'the-key\n');
  assert.equal(sha.status, 0, sha.stderr);
  assert.equal(sha.stdout, `${hashApiKey('the-key')}\n`, 'the trailing newline of `echo` is not part of the key');

  const generated = run(['hash-key', '--generate', '--scrypt']);
  assert.equal(generated.status, 0, generated.stderr);
  const [, key, hash] = /^key: {2}(\S+)\nhash: (scrypt:\S+)\n$/.exec(generated.stdout) ?? [];
  assert.ok(key && key.length >= 40 && hash, generated.stdout);
  // The line works as written in a config file, and the key it was made from is let in.
  const cfg = loadConfig({ env: {}, overrides: { auth: { mode: 'apiKey', apiKeys: [{ name: 'ci', hash, tenant: 'team-a', scopes: ['ingest'] }] } } });
  const verifier = createApiKeyVerifier(cfg.auth.apiKeys);
  assert.equal(verifier.verify(key)?.tenant, 'team-a');
  assert.equal(verifier.verify(`${key}x`), undefined);

  const empty = run(['hash-key']);
  assert.equal(empty.status, 2);
  assert.match(empty.stderr, /no key on stdin/);
});

test('--version prints the package version; serve --help prints the usage', () => {
  const version = run(['--version']);
  assert.equal(version.status, 0, version.stderr);
  assert.equal(version.stdout, `teleql ${(JSON.parse(readFileSync('package.json', 'utf8')) as { version: string }).version}\n`);
  const help = run(['serve', '--help']);
  assert.equal(help.status, 0);
  assert.match(help.stdout, /^usage: teleql serve/);
});
