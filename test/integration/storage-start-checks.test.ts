// What `teleql serve` refuses at start about its store (storage QA, round 29): a data file it
// could open but not write (the gateway answered ready and dropped every batch), and storage
// settings DuckDB or a timer would take badly (threads, a retention interval past a timer's limit).
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { loadConfig } from '../../src/config/load.ts';
import { ConfigError } from '../../src/config/merge.ts';
import { silentLogger } from '../../src/logger.ts';
import { openDuckDbStore } from '../../src/stores/duckdb/index.ts';
import { DuckDBInstance } from '@duckdb/node-api';
import { freePort } from '../helpers/free-port.ts';

const BIN = new URL('../../bin/teleql.js', import.meta.url).pathname;

/** Runs `teleql serve` until it exits (or `ms` pass: it is killed) and returns its exit code and output. */
async function serveUntilExit(args: string[], ms = 30_000): Promise<{ code: number | null; output: string }> {
  const [graphql, grpc, http] = [await freePort(), await freePort(), await freePort()];
  const env = { ...process.env, TELEQL_GRAPHQL_PORT: String(graphql), TELEQL_OTLP_GRPC_PORT: String(grpc), TELEQL_OTLP_HTTP_PORT: String(http), TELEQL_LOG_LEVEL: 'info' };
  const child = spawn(process.execPath, [BIN, 'serve', ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr.on('data', (d: Buffer) => (output += d.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), ms);
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  clearTimeout(timer);
  return { code, output };
}

describe('start-up checks of the store', () => {
  const dir = mkdtempSync(join(tmpdir(), 'teleql-storage-start-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  for (const made of ['this version', 'a version before the start-up write check (no last_open table)']) {
  test(`an existing data file (${made}) in a directory where its WAL cannot be created stops start-up (exit 1) naming the file`, async (t) => {
    const storeDir = join(dir, `readonly-${made.length}`);
    mkdirSync(storeDir);
    const path = join(storeDir, 'teleql.duckdb');
    const store = await openDuckDbStore({ path, logger: silentLogger() });
    await store.close();
    if (made !== 'this version') {
      // On such a file the check's CREATE TABLE is the first write (review of round 29: it failed outside the check).
      const instance = await DuckDBInstance.create(path);
      const conn = await instance.connect();
      await conn.run('DROP TABLE last_open');
      conn.closeSync();
      instance.closeSync();
    }
    // No new file may be created beside the data file; the file itself stays writable. Root ignores
    // the mode bits, so there the directory is made immutable instead (where the file system allows).
    const asRoot = process.getuid?.() === 0;
    try {
      if (asRoot) execFileSync('chattr', ['+i', storeDir], { stdio: 'pipe' });
      else chmodSync(storeDir, 0o555);
    } catch (err) {
      t.skip(`cannot make ${storeDir} unwritable here (chattr +i: ${String((err as Error).message).split('\n')[0]})`);
      return;
    }
    try {
      const { code, output } = await serveUntilExit(['--data', path]);
      assert.equal(code, 1, output);
      assert.match(output, /teleql: failed to start: .*teleql\.duckdb opens but cannot be written/);
      assert.match(output, /\.wal/);
      assert.doesNotMatch(output, /"msg":"ready"/);
    } finally {
      if (asRoot) execFileSync('chattr', ['-i', storeDir]);
      else chmodSync(storeDir, 0o755);
    }
  });
  }

  test('storage.duckdb.threads must be a whole number ≥ 0: a config error naming the key, exit code 2', async () => {
    const config = join(dir, 'threads.yaml');
    writeFileSync(config, 'storage:\n  duckdb:\n    threads: -1\n');
    const { code, output } = await serveUntilExit(['--config', config, '--data', ':memory:']);
    assert.equal(code, 2, output);
    assert.match(output, /storage\.duckdb\.threads: expected an integer from 0 .* \(actual: -1\)/);
    for (const threads of [1.5, 100_000]) {
      assert.throws(
        () => loadConfig({ env: {}, overrides: { storage: { duckdb: { threads } } } }),
        (err: unknown) => err instanceof ConfigError && err.message.includes(`storage.duckdb.threads`) && err.message.includes(`(actual: ${threads})`),
      );
    }
    assert.equal(loadConfig({ env: {}, overrides: { storage: { duckdb: { threads: 0 } } } }).storage.duckdb.threads, 0);
  });

  test('storage.retention.interval past a timer’s limit (about 24.8 days) is a config error naming the key', () => {
    for (const interval of ['25d', '30d']) {
      assert.throws(
        () => loadConfig({ env: {}, overrides: { storage: { retention: { interval } } } }),
        (err: unknown) => err instanceof ConfigError && /^storage\.retention\.interval: expected at most 2147483647 ms/.test(err.message),
      );
    }
    assert.equal(loadConfig({ env: {}, overrides: { storage: { retention: { interval: '24d' } } } }).storage.retention.interval, '24d');
  });

  test('a file of a newer store layout is refused as newer, and left as it is', async () => {
    const path = join(dir, 'newer.duckdb');
    const store = await openDuckDbStore({ path, logger: silentLogger() });
    await store.db.writeLane('spans').use((conn) => conn.run('UPDATE layout SET version = 3'));
    await store.close();
    await assert.rejects(openDuckDbStore({ path, logger: silentLogger() }), (err: Error) => {
      assert.match(err.message, /written by a newer teleql \(store layout 3\)/);
      assert.doesNotMatch(err.message, /resources and scopes/);
      return true;
    });
    const again = await openDuckDbStore({ path, logger: silentLogger() }).catch((err: Error) => err);
    assert.ok(again instanceof Error, 'still refused: the refusal changed nothing in the file');
  });
});
