// The `teleql` command's small subcommands, as a real process: hash-key, --version, serve --help,
// and the messages `serve` stops with when a setting is wrong.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createServer, type AddressInfo } from 'node:net';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { createApiKeyVerifier, hashApiKey } from '../../src/auth/api-keys.ts';
import { loadConfig } from '../../src/config/load.ts';

const BIN = new URL('../../bin/teleql.js', import.meta.url).pathname;
const run = (args: string[], input = '', env: Record<string, string> = {}) =>
  spawnSync(process.execPath, [BIN, ...args], { input, encoding: 'utf8', env: { ...process.env, ...env }, timeout: 60_000 });

test('hash-key writes the auth.apiKeys hash of a key from stdin, or of a new random key', async () => {
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
  assert.equal((await verifier.verify(key))?.tenant, 'team-a');
  assert.equal(await verifier.verify(`${key}x`), undefined);

  const empty = run(['hash-key']);
  assert.equal(empty.status, 2);
  assert.match(empty.stderr, /no key on stdin/);

  // It was "Unknown option '--help'" and exit 2, where serve --help and tail --help print their usage.
  const help = run(['hash-key', '--help']);
  assert.equal(help.status, 0, help.stderr);
  assert.match(help.stdout, /^usage: echo -n "\$KEY" \| teleql hash-key/);
});

test('--version prints the package version; serve --help prints the usage', () => {
  const version = run(['--version']);
  assert.equal(version.status, 0, version.stderr);
  assert.equal(version.stdout, `teleql ${(JSON.parse(readFileSync('package.json', 'utf8')) as { version: string }).version}\n`);
  const help = run(['serve', '--help']);
  assert.equal(help.status, 0);
  assert.match(help.stdout, /^usage: teleql serve/);
});

test('serve stops with exit code 2 and a message naming the setting when a URL, a file or an exporter section is wrong', () => {
  const dir = mkdtempSync(join(tmpdir(), 'teleql-cli-'));
  try {
    const config = join(dir, 'teleql.yaml');
    writeFileSync(config, 'exporters:\n  jaeger:\n    endpoint: "not a url"\npipelines:\n  traces:\n    receivers: [otlp]\n    processors: [batch]\n    exporters: [duckdb, jaeger]\n');
    const missing = join(dir, 'missing');
    const local = { TELEQL_GRAPHQL_PORT: '0', TELEQL_OTLP_GRPC_PORT: '0', TELEQL_OTLP_HTTP_PORT: '0', TELEQL_DATA_PATH: ':memory:', TELEQL_LOG_LEVEL: 'warn' };
    const cases: [string[], Record<string, string>, string][] = [
      [['--config', config], {}, 'exporters.jaeger.endpoint: "not a url" is not a URL'],
      [[], { TELEQL_TRACES_EXPORTERS: 'duckdb,jaeger', TELEQL_JAEGER_OTLP_ENDPOINT: 'https://jaeger:4318', TELEQL_JAEGER_OTLP_CA_FILE: `${missing}/ca.pem` }, `exporters.jaeger.tls.caFile: cannot read ${missing}/ca.pem: no such file`],
      [[], { TELEQL_TLS_CERT_FILE: `${missing}/cert.pem`, TELEQL_TLS_KEY_FILE: `${missing}/key.pem` }, `tls.certFile: cannot read ${missing}/cert.pem: no such file`],
      [[], { TELEQL_AUTH_MODE: 'jwt', TELEQL_JWKS_FILE: `${missing}/jwks.json` }, `auth.jwt.jwksFile: cannot read ${missing}/jwks.json: no such file`],
      [[], { TELEQL_LOGS_READ: 'elasticsearch', TELEQL_ES_NODE: 'https://es:9200', TELEQL_ES_CA_FILE: `${missing}/es.pem` }, `storage.elasticsearch.caFile: cannot read ${missing}/es.pem: no such file`],
      [
        [],
        { TELEQL_TRACES_EXPORTERS: 'duckdb,jaeger' },
        'pipelines.traces.exporters: exporter "jaeger" is named in the pipeline but there is no exporters.jaeger section (configured exporters: duckdb, embedding); add exporters.jaeger to the config file or set TELEQL_JAEGER_OTLP_ENDPOINT',
      ],
    ];
    for (const [args, env, message] of cases) {
      const served = run(['serve', ...args], '', { ...local, ...env });
      assert.equal(served.status, 2, `${message}\n${served.stderr}`);
      assert.equal(served.stderr, `teleql: ${message}\n`);
    }
    // Every file that cannot be read is named at once (it took a restart per file).
    const files = run(['serve'], '', { ...local, TELEQL_TLS_CERT_FILE: `${missing}/cert.pem`, TELEQL_TLS_KEY_FILE: `${missing}/key.pem`, TELEQL_LOGS_READ: 'elasticsearch', TELEQL_ES_NODE: 'https://es:9200', TELEQL_ES_CA_FILE: `${missing}/es.pem` });
    assert.equal(files.status, 2, files.stderr);
    assert.equal(files.stderr, `teleql: 2 mistakes:\n  - tls.certFile: cannot read ${missing}/cert.pem: no such file\n  - storage.elasticsearch.caFile: cannot read ${missing}/es.pem: no such file\n`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('serve stops with exit code 2 naming the setting when a port is taken or the address is not this machine\'s, nothing else is printed, and no DuckDB file is left', async () => {
  const taken = createServer();
  await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
  const port = String((taken.address() as AddressInfo).port);
  const dir = mkdtempSync(join(tmpdir(), 'teleql-bind-'));
  // Every listener binds before the store opens its file: a failed bind creates none.
  const local = { TELEQL_GRAPHQL_PORT: '0', TELEQL_OTLP_GRPC_PORT: '0', TELEQL_OTLP_HTTP_PORT: '0', TELEQL_DATA_PATH: join(dir, 'data', 'teleql.duckdb'), TELEQL_LOG_LEVEL: 'warn' };
  try {
    const cases: [Record<string, string>, string][] = [
      [{ TELEQL_GRAPHQL_PORT: port }, `graphql.port: 127.0.0.1:${port} is in use by another program (another teleql?); stop it or choose another port (EADDRINUSE)`],
      [{ TELEQL_OTLP_GRPC_PORT: port }, `receivers.otlp.grpc.port: 127.0.0.1:${port} is in use by another program (another teleql?); stop it or choose another port (EADDRINUSE)`],
      [{ TELEQL_OTLP_HTTP_PORT: port }, `receivers.otlp.http.port: 127.0.0.1:${port} is in use by another program (another teleql?); stop it or choose another port (EADDRINUSE)`],
      [{ TELEQL_HOST: '192.0.2.1' }, 'is not an address of this machine'],
      [{ TELEQL_HOST: 'no-such-host.invalid' }, 'names a host that does not resolve'],
    ];
    for (const [env, message] of cases) {
      const served = run(['serve'], '', { ...local, ...env });
      assert.equal(served.status, 2, `${message}\n${served.stderr}`);
      if (env.TELEQL_HOST === '192.0.2.1') assert.match(served.stderr, /^teleql: [\w.]+\.host: 192\.0\.2\.1:0 is not an address of this machine; use one of its addresses, 127\.0\.0\.1, or 0\.0\.0\.0 for all \(EADDRNOTAVAIL\)\n$/);
      // Without DNS the lookup may fail as "try again" rather than "not found": the same setting.
      else if (env.TELEQL_HOST) assert.match(served.stderr, /^teleql: [\w.]+\.host: no-such-host\.invalid:0 names a host that (does not resolve|could not be resolved now).*\((ENOTFOUND|EAI_AGAIN)\)\n$/);
      else assert.equal(served.stderr, `teleql: ${message}\n`);
      assert.deepEqual(readdirSync(dir, { recursive: true }), [], `files left behind after: ${message}`);
    }
    // Two of its own listeners on one port: named both, not "another program" (QA round 38e).
    const spare = createServer();
    await new Promise<void>((resolve) => spare.listen(0, '127.0.0.1', resolve));
    const twice = String((spare.address() as AddressInfo).port);
    await new Promise((resolve) => spare.close(resolve));
    const clash = run(['serve'], '', { ...local, TELEQL_GRAPHQL_PORT: twice, TELEQL_OTLP_HTTP_PORT: twice });
    assert.equal(clash.status, 2, clash.stderr);
    assert.match(clash.stderr, new RegExp(`^teleql: (graphql|receivers\\.otlp\\.http)\\.port: 127\\.0\\.0\\.1:${twice} is also (receivers\\.otlp\\.http|graphql)\\.port: this gateway's own .* listener has it; give them different ports \\(EADDRINUSE\\)\n$`));
    // A mistake only the component's factory sees (a key under receivers.otlp) leaves no file either.
    const configFile = join(dir, '..', `${basename(dir)}-typo.yaml`);
    writeFileSync(configFile, 'receivers:\n  otlp:\n    http:\n      cors:\n        allowedOrigin: ["https://x.example"]\n');
    try {
      const typo = run(['serve', '--config', configFile], '', local);
      assert.equal(typo.status, 2, typo.stderr);
      assert.match(typo.stderr, /allowedOrigin/);
      assert.deepEqual(readdirSync(dir, { recursive: true }), [], 'files left behind after a component section mistake');
    } finally {
      rmSync(configFile, { force: true });
    }
  } finally {
    taken.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
