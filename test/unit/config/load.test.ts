import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ENV_VARS, loadConfig } from '../../../src/config/load.ts';

test('defaults are loopback listeners, the usual ports and a DuckDB file under ./data', () => {
  const cfg = loadConfig({ env: {} });
  assert.equal(cfg.graphql.host, '127.0.0.1');
  assert.equal(cfg.graphql.port, 4000);
  assert.equal(cfg.storage.duckdb.path, './data/teleql.duckdb');
  assert.deepEqual(cfg.pipelines.traces, { receivers: ['otlp'], processors: ['memory_limiter', 'batch'], exporters: ['duckdb', 'embedding'] });
  assert.ok(Object.isFrozen(cfg.graphql), 'the config is frozen');
});

test('file < environment < overrides, and component sections merge field by field', () => {
  const dir = mkdtempSync(join(tmpdir(), 'teleql-config-'));
  try {
    const file = join(dir, 'c.yaml');
    writeFileSync(file, 'graphql:\n  port: 5000\n  path: /gql\nreceivers:\n  otlp:\n    maxRequestBytes: 1024\n    grpc: { port: 1111 }\nlog:\n  level: debug\n');
    const cfg = loadConfig({ file, env: { TELEQL_GRAPHQL_PORT: '6000', TELEQL_OTLP_GRPC_PORT: '2222', TELEQL_HOST: '0.0.0.0' }, overrides: { log: { level: 'warn' } } });
    assert.equal(cfg.graphql.port, 6000);
    assert.equal(cfg.graphql.path, '/gql');
    assert.equal(cfg.graphql.host, '0.0.0.0');
    assert.deepEqual(cfg.receivers.otlp, { maxRequestBytes: 1024, grpc: { port: 2222, host: '0.0.0.0' }, http: { host: '0.0.0.0' } });
    assert.equal(cfg.log.level, 'warn');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('bad settings stop start-up with a message naming the setting and the value', () => {
  const cases: [Parameters<typeof loadConfig>[0], RegExp][] = [
    [{ env: { TELEQL_GRAPHQL_PORT: 'http' } }, /TELEQL_GRAPHQL_PORT: expected an integer from 0 to 65535 \(actual: 'http'\)/],
    [{ env: { TELEQL_OTLP_HTTP_PORT: '70000' } }, /TELEQL_OTLP_HTTP_PORT/],
    // Number() read these as 0 (a random port, or "never" for the timeouts) and 16.
    [{ env: { TELEQL_GRAPHQL_PORT: ' ' } }, /TELEQL_GRAPHQL_PORT: expected an integer from 0 to 65535 \(actual: ' '\)/],
    [{ env: { TELEQL_HTTP_KEEPALIVE_TIMEOUT_MS: '0x10' } }, /TELEQL_HTTP_KEEPALIVE_TIMEOUT_MS: expected an integer/],
    [{ env: { TELEQL_LOG_LEVEL: 'loud' } }, /log.level: expected one of .* \(actual: 'loud'\)/],
    [{ env: {}, overrides: { graphql: { prot: 1 } } }, /graphql: unknown key "prot"/],
    // Object.prototype's members are not keys of a section (it said "expected function").
    [{ env: {}, overrides: { graphql: JSON.parse('{"constructor": 1}') as object } }, /graphql: unknown key "constructor"/],
    [{ env: {}, overrides: { graphql: { port: '4000' } } }, /graphql.port: expected number/],
    [{ env: {}, overrides: { graphql: { path: 'graphql' } } }, /graphql.path: must start with "\/"/],
    [{ env: {}, file: '/nonexistent/teleql.yaml' }, /config file \/nonexistent\/teleql.yaml/],
    // The pipeline names an exporter whose section nothing created: said so, with what is configured (it was "unknown exporter type").
    [
      { env: { TELEQL_LOGS_EXPORTERS: 'duckdb,elasticsearch' } },
      /^ConfigError: pipelines\.logs\.exporters: exporter "elasticsearch" is named in the pipeline but there is no exporters\.elasticsearch section \(configured exporters: duckdb, embedding\); add exporters\.elasticsearch to the config file$/,
    ],
    [{ env: { TELEQL_SHUTDOWN_DRAIN_MS: '1s' } }, /TELEQL_SHUTDOWN_DRAIN_MS: expected an integer/],
    [{ env: {}, overrides: { shutdown: { drainMs: 3_600_000 } } }, /shutdown\.drainMs: expected an integer number of ms from 0 to 300000 \(actual: 3600000\)/],
  ];
  for (const [sources, message] of cases) assert.throws(() => loadConfig(sources), message);
  // A URL's credentials are not repeated in the message (it goes to logs and terminals).
  assert.throws(
    () => loadConfig({ env: { TELEQL_METRICS_READ: 'prometheus', TELEQL_PROMETHEUS_URL: 'prometheus://user:s3cret@prom:9090' } }),
    (err: Error) => err.message.includes("(actual: 'prometheus://***@prom:9090')") && !err.message.includes('s3cret'),
  );
  // Code review, session 32 (round 2): without a scheme, and a secret of the wrong type.
  assert.throws(
    () => loadConfig({ env: { TELEQL_METRICS_READ: 'prometheus', TELEQL_PROMETHEUS_URL: 'admin:s3cret@prom:9090' } }),
    (err: Error) => err.message.includes("(actual: '***@prom:9090')") && !err.message.includes('s3cret'),
  );
  assert.throws(
    () => loadConfig({ env: {}, overrides: { auth: { mode: 'jwt', jwt: { secret: 123456 } } } }),
    (err: Error) => err.message === 'overrides: auth.jwt.secret: expected string (actual: a number, not shown)',
    'the value is not shown, and no second message says the secret is not set',
  );
});

test("a config file's bad key is named after the file, apart from it (the file's name is not part of the key path)", () => {
  const dir = mkdtempSync(join(tmpdir(), 'teleql-config-'));
  try {
    const file = join(dir, 'teleql.yaml');
    writeFileSync(file, 'graphql:\n  prot: 4000\n');
    assert.throws(() => loadConfig({ env: {}, file }), (err: Error) => err.message.startsWith(`config file ${file}: graphql: unknown key "prot" (known keys: `));
    writeFileSync(file, 'tail:\n  bufferSize: lots\n');
    assert.throws(() => loadConfig({ env: {}, file }), (err: Error) => err.message === `config file ${file}: tail.bufferSize: expected number (actual: "lots")`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a config with several mistakes names them all in one error, one per line, and each only once', () => {
  const dir = mkdtempSync(join(tmpdir(), 'teleql-config-'));
  try {
    const file = join(dir, 'teleql.yaml');
    // A typo'd key, a wrong type, two bad values checked after the merge (one in the security
    // section), and a bad environment variable: one start used to name only the first.
    writeFileSync(file, 'graphql:\n  prot: 4000\ntail:\n  bufferSize: lots\nlog:\n  level: loud\nlimits:\n  graphql:\n    maxDepth: -1\nstorage:\n  duckdb:\n    writeStepRows: 100\n');
    assert.throws(
      () => loadConfig({ env: { TELEQL_GRAPHQL_PORT: 'http' }, file }),
      (err: Error) => {
        const lines = err.message.split('\n');
        assert.equal(lines[0], '6 mistakes:');
        assert.deepEqual(lines.slice(1), [
          `  - config file ${file}: graphql: unknown key "prot" (known keys: ${lines[1]!.split('known keys: ')[1]!.slice(0, -1)})`,
          `  - config file ${file}: tail.bufferSize: expected number (actual: "lots")`,
          "  - TELEQL_GRAPHQL_PORT: expected an integer from 0 to 65535 (actual: 'http')",
          '  - limits.graphql.maxDepth: expected an integer of 0 or more (actual: -1)',
          "  - log.level: expected one of fatal|error|warn|info|debug|trace|silent (actual: 'loud')",
          '  - storage.duckdb.writeStepRows: expected a power of two from 64 to 2048 (actual: 100)',
        ]);
        return err.name === 'ConfigError';
      },
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('shutdown.drainMs is 0 by default (a local gateway stops at once) and comes from TELEQL_SHUTDOWN_DRAIN_MS', () => {
  assert.deepEqual(loadConfig({ env: {} }).shutdown, { drainMs: 0 });
  assert.equal(loadConfig({ env: { TELEQL_SHUTDOWN_DRAIN_MS: '10000' } }).shutdown.drainMs, 10_000);
});

test('the tail section has its limits by default and rejects a limit that is not a positive integer', () => {
  assert.deepEqual(loadConfig({ env: {} }).tail, {
    maxSubscriptions: 1000,
    maxPerConnection: 20,
    maxPerTenant: 500,
    bufferSize: 1000,
    maxReplay: 10_000,
    matchBudgetMs: 1000,
    compiled: true,
    flushIntervalMs: 0,
    busyFlushIntervalMs: 100,
    traces: { rootWaitMs: 1000, quietMs: 5000, maxTraces: 10_000, maxSpansPerTrace: 1000 },
    redis: { url: '', channelPrefix: '' },
  });
  assert.equal(loadConfig({ env: {}, overrides: { tail: { bufferSize: 5 } } }).tail.bufferSize, 5);
  assert.throws(() => loadConfig({ env: {}, overrides: { tail: { maxPerConnection: 0 } } }), /tail\.maxPerConnection: expected an integer greater than 0 \(actual: 0\)/);
  assert.throws(() => loadConfig({ env: {}, overrides: { tail: { bufferSize: 1.5 } } }), /tail\.bufferSize/);
  assert.throws(() => loadConfig({ env: {}, overrides: { tail: { maxSubscription: 5 } } }), /maxSubscription/);
  assert.throws(() => loadConfig({ env: {}, overrides: { tail: { compiled: 'yes' } } }), /tail\.compiled/);
  assert.throws(() => loadConfig({ env: {}, overrides: { tail: { matchBudgetMs: -1 } } }), /tail\.matchBudgetMs: expected an integer number of ms per 10 s from 0 \(no budget\) to 10000 \(actual: -1\)/);
  assert.throws(() => loadConfig({ env: {}, overrides: { tail: { traces: { quietMs: 0 } } } }), /tail\.traces\.quietMs: expected an integer of at least 1 \(actual: 0\)/);
  assert.throws(() => loadConfig({ env: {}, overrides: { tail: { redis: { url: 'localhost:6379' } } } }), /tail\.redis\.url: expected a redis:\/\/ or rediss:\/\/ URL/);
  assert.equal(loadConfig({ env: { TELEQL_TAIL_REDIS_URL: 'redis://10.0.0.5:6379' } }).tail.redis.url, 'redis://10.0.0.5:6379');
});

test('storage.duckdb.writeStepRows comes from TELEQL_DUCKDB_WRITE_STEP_ROWS and must be a power of two from 64 to 2048', () => {
  assert.equal(loadConfig({ env: {} }).storage.duckdb.writeStepRows, 512);
  assert.equal(loadConfig({ env: { TELEQL_DUCKDB_WRITE_STEP_ROWS: '128' } }).storage.duckdb.writeStepRows, 128);
  for (const bad of [32, 100, 4096]) {
    assert.throws(() => loadConfig({ env: {}, overrides: { storage: { duckdb: { writeStepRows: bad } } } }), new RegExp(`storage\\.duckdb\\.writeStepRows: expected a power of two from 64 to 2048 \\(actual: ${bad}\\)`));
  }
});

test('storage.duckdb.memoryLimit comes from TELEQL_DUCKDB_MEMORY_LIMIT and must be a DuckDB size', () => {
  const duckdb = (env: Record<string, string>) => loadConfig({ env }).storage.duckdb;
  assert.equal(duckdb({}).memoryLimit, '64MB');
  assert.equal(duckdb({ TELEQL_DUCKDB_MEMORY_LIMIT: '1.5GiB' }).memoryLimit, '1.5GiB');
  assert.equal(loadConfig({ env: {}, overrides: { storage: { duckdb: { memoryLimit: '' } } } }).storage.duckdb.memoryLimit, '', "'' in a file: DuckDB's default");
  assert.throws(() => duckdb({ TELEQL_DUCKDB_MEMORY_LIMIT: '80%' }), /storage\.duckdb\.memoryLimit: expected a size such as 64MB or 1GiB, or '' for DuckDB's default \(actual: '80%'\)/);
  // At 4–16 MB commits failed beside reads and acknowledged batches were dropped while ready.
  assert.throws(() => duckdb({ TELEQL_DUCKDB_MEMORY_LIMIT: '16MB' }), /storage\.duckdb\.memoryLimit: expected at least 32MB, below which writes fail beside reads \(actual: '16MB'\)/);
  assert.equal(duckdb({ TELEQL_DUCKDB_MEMORY_LIMIT: '32MB' }).memoryLimit, '32MB');
  assert.equal(duckdb({ TELEQL_DUCKDB_MEMORY_LIMIT: '0.5GB' }).memoryLimit, '0.5GB');
});

test('storage.duckdb.reopenEveryRows comes from TELEQL_DUCKDB_REOPEN_EVERY_ROWS and must be 0 or at least 100000', () => {
  assert.equal(loadConfig({ env: {} }).storage.duckdb.reopenEveryRows, 2_000_000);
  assert.equal(loadConfig({ env: { TELEQL_DUCKDB_REOPEN_EVERY_ROWS: '0' } }).storage.duckdb.reopenEveryRows, 0);
  assert.equal(loadConfig({ env: { TELEQL_DUCKDB_REOPEN_EVERY_ROWS: '250000' } }).storage.duckdb.reopenEveryRows, 250_000);
  for (const bad of [-1, 50, 1.5]) {
    assert.throws(
      () => loadConfig({ env: {}, overrides: { storage: { duckdb: { reopenEveryRows: bad } } } }),
      new RegExp(`storage\\.duckdb\\.reopenEveryRows: expected 0 \\(never\\) or an integer of at least 100000 \\(actual: ${bad}\\)`),
    );
  }
});

test('tail.flushIntervalMs and busyFlushIntervalMs come from TELEQL_TAIL_(BUSY_)FLUSH_INTERVAL_MS and must be integers from 0 to 1000', () => {
  const tail = (env: Record<string, string>) => loadConfig({ env }).tail;
  assert.deepEqual([tail({}).flushIntervalMs, tail({}).busyFlushIntervalMs], [0, 100]);
  assert.equal(tail({ TELEQL_TAIL_FLUSH_INTERVAL_MS: '25' }).flushIntervalMs, 25);
  assert.equal(tail({ TELEQL_TAIL_BUSY_FLUSH_INTERVAL_MS: '0' }).busyFlushIntervalMs, 0);
  for (const key of ['flushIntervalMs', 'busyFlushIntervalMs']) {
    for (const bad of [-1, 1001, 2.5]) {
      assert.throws(
        () => loadConfig({ env: {}, overrides: { tail: { [key]: bad } } }),
        new RegExp(`tail\\.${key}: expected an integer from 0 \\(write at once\\) to 1000 \\(actual: ${bad}\\)`),
      );
    }
  }
});

test('storage.duckdb.writeStepMs comes from TELEQL_DUCKDB_WRITE_STEP_MS and must be an integer from 1 to 100', () => {
  assert.equal(loadConfig({ env: {} }).storage.duckdb.writeStepMs, 10);
  assert.equal(loadConfig({ env: { TELEQL_DUCKDB_WRITE_STEP_MS: '2' } }).storage.duckdb.writeStepMs, 2);
  for (const bad of [0, 2.5, 101]) {
    assert.throws(() => loadConfig({ env: {}, overrides: { storage: { duckdb: { writeStepMs: bad } } } }), new RegExp(`storage\\.duckdb\\.writeStepMs: expected an integer number of ms from 1 to 100 \\(actual: ${bad}\\)`));
  }
});

test('storage.jaeger.alwaysSendTenant is false by default, can be set in the file, and must be a boolean', () => {
  assert.equal(loadConfig({ env: {} }).storage.jaeger.alwaysSendTenant, false);
  assert.equal(loadConfig({ env: {}, overrides: { storage: { jaeger: { alwaysSendTenant: true } } } }).storage.jaeger.alwaysSendTenant, true);
  assert.throws(() => loadConfig({ env: {}, overrides: { storage: { jaeger: { alwaysSendTenant: 'yes' } } } }), /storage\.jaeger\.alwaysSendTenant: expected boolean/);
});

test('storage.jaeger.spanLookup comes from TELEQL_JAEGER_SPAN_LOOKUP_* (7 days back, 8 requests by default) and is checked', () => {
  const lookup = (env: Record<string, string>, overrides?: unknown) => loadConfig({ env, overrides }).storage.jaeger.spanLookup;
  assert.deepEqual(lookup({}), { lookbackMs: 604_800_000, maxRequests: 8 });
  assert.deepEqual(lookup({ TELEQL_JAEGER_SPAN_LOOKUP_LOOKBACK_MS: '86400000', TELEQL_JAEGER_SPAN_LOOKUP_MAX_REQUESTS: '3' }), { lookbackMs: 86_400_000, maxRequests: 3 });
  assert.deepEqual(lookup({}, { storage: { jaeger: { spanLookup: { maxRequests: 64 } } } }), { lookbackMs: 604_800_000, maxRequests: 64 }, 'one key of the section');
  for (const bad of [0, 59_999, 31_622_400_001, 1.5]) {
    assert.throws(
      () => lookup({}, { storage: { jaeger: { spanLookup: { lookbackMs: bad } } } }),
      new RegExp(`storage\\.jaeger\\.spanLookup\\.lookbackMs: expected an integer number of ms from 60000 to 31622400000 \\(actual: ${bad}\\)`),
    );
  }
  for (const bad of [0, 65, 2.5]) {
    assert.throws(
      () => lookup({}, { storage: { jaeger: { spanLookup: { maxRequests: bad } } } }),
      new RegExp(`storage\\.jaeger\\.spanLookup\\.maxRequests: expected an integer from 1 to 64 \\(actual: ${bad}\\)`),
    );
  }
  assert.throws(() => lookup({ TELEQL_JAEGER_SPAN_LOOKUP_MAX_REQUESTS: 'eight' }), /TELEQL_JAEGER_SPAN_LOOKUP_MAX_REQUESTS: expected an integer/);
  assert.throws(() => lookup({}, { storage: { jaeger: { spanLookup: { maxRequest: 3 } } } }), /storage\.jaeger\.spanLookup: unknown key "maxRequest"/);
});

test('storage.duckdb.readLanes comes from TELEQL_DUCKDB_READ_LANES and is checked', () => {
  assert.equal(loadConfig({ env: {} }).storage.duckdb.readLanes, 3);
  assert.equal(loadConfig({ env: { TELEQL_DUCKDB_READ_LANES: '5' } }).storage.duckdb.readLanes, 5);
  assert.throws(() => loadConfig({ env: { TELEQL_DUCKDB_READ_LANES: 'many' } }), /TELEQL_DUCKDB_READ_LANES: expected an integer/);
  assert.throws(() => loadConfig({ env: {}, overrides: { storage: { duckdb: { readLanes: 0 } } } }), /storage\.duckdb\.readLanes: expected an integer from 1 to 64 \(actual: 0\)/);
});

test('limits.connections comes from TELEQL_* environment variables, each checked as an integer', () => {
  const env = {
    TELEQL_HTTP_KEEPALIVE_TIMEOUT_MS: '1001',
    TELEQL_HTTP_HEADERS_TIMEOUT_MS: '1002',
    TELEQL_HTTP_REQUEST_TIMEOUT_MS: '1003',
    TELEQL_WS_IDLE_TIMEOUT_MS: '1004',
    TELEQL_WS_PING_INTERVAL_MS: '1005',
    TELEQL_SSE_STALLED_MS: '1010',
    TELEQL_GRPC_MAX_IDLE_MS: '1006',
    TELEQL_GRPC_KEEPALIVE_TIME_MS: '1007',
    TELEQL_GRPC_KEEPALIVE_TIMEOUT_MS: '0',
    TELEQL_MAX_CONNECTIONS_PER_LISTENER: '1008',
    TELEQL_MAX_CONNECTIONS_PER_ADDRESS: '1009',
    TELEQL_CONNECTIONS_IPV6_PREFIX_LENGTH: '56',
  };
  assert.deepEqual(loadConfig({ env }).limits.connections, {
    httpKeepAliveTimeoutMs: 1001,
    httpHeadersTimeoutMs: 1002,
    httpRequestTimeoutMs: 1003,
    wsIdleTimeoutMs: 1004,
    wsPingIntervalMs: 1005,
    sseStalledMs: 1010,
    grpcMaxIdleMs: 1006,
    grpcKeepaliveTimeMs: 1007,
    grpcKeepaliveTimeoutMs: 0,
    maxPerListener: 1008,
    maxPerAddress: 1009,
    ipv6PrefixLength: 56,
  });
  // Every limits.connections key has its variable, so a key added later without one fails here.
  const covered = new Set(ENV_VARS.map((v) => v.path));
  for (const key of Object.keys(loadConfig({ env: {} }).limits.connections)) assert.ok(covered.has(`limits.connections.${key}`), `no env var for ${key}`);
  assert.throws(() => loadConfig({ env: { TELEQL_GRPC_MAX_IDLE_MS: '5s' } }), /TELEQL_GRPC_MAX_IDLE_MS: expected an integer from 0 to \d+ \(actual: '5s'\)/);
  assert.throws(() => loadConfig({ env: { TELEQL_WS_IDLE_TIMEOUT_MS: '-1' } }), /TELEQL_WS_IDLE_TIMEOUT_MS: expected an integer/);
});

test("README's configuration table lists every environment variable, and no other", async () => {
  const { readFileSync } = await import('node:fs');
  const readme = readFileSync(new URL('../../../README.md', import.meta.url), 'utf8');
  const rows = readme.split('\n').filter((line) => line.startsWith('| `TELEQL_'));
  const documented = new Set(rows.flatMap((row) => [...row.split('|')[1]!.matchAll(/TELEQL_[A-Z0-9_]+/g)].map((m) => m[0])));
  const known = new Set(['TELEQL_CONFIG', ...ENV_VARS.map((v) => v.name)]);
  assert.deepEqual([...known].filter((name) => !documented.has(name)), [], 'variables the README table does not list');
  assert.deepEqual([...documented].filter((name) => !known.has(name)), [], 'variables the README table lists that the loader does not read');
});
