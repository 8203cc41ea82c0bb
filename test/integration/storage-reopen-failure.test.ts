// A store whose reopen failed (storage QA: a full disk invalidated the database, and the reopen that
// followed could not replay the WAL) is down, not closed for good: the reason is logged, /readyz
// answers 503 naming it, OTLP is refused as retryable (HTTP 503, gRPC UNAVAILABLE) instead of being
// acknowledged and dropped, and the reopen is retried, so the store serves again once the cause is
// gone, without a restart. Two real causes on real files: the data file moved away during a reopen
// (any machine), and a full disk on a small tmpfs (root with mount allowed; skipped otherwise).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, renameSync, rmSync, statSync, truncateSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { buildApp, type App } from '../../src/app.ts';
import { testConfig } from '../helpers/gateway.ts';
import { capturingLogger } from '../helpers/capturing-logger.ts';
import { gql } from '../helpers/graphql-client.ts';
import { grpcExport } from '../helpers/otlp-grpc.ts';
import { spansJson, toProtobuf } from '../helpers/otlp-bodies.ts';
import { tempStorePaths } from '../helpers/temp-store.ts';
import { waitFor } from '../helpers/wait-for.ts';

interface Gateway {
  app: App;
  graphqlUrl: string;
  readyzUrl: string;
  otlpHttp: string;
  otlpGrpc: string;
  logs: Record<string, unknown>[];
}

async function startOn(path: string): Promise<Gateway> {
  const { logger, lines } = capturingLogger();
  const app = buildApp(testConfig({ log: { level: 'debug' } }, path), { logger });
  await app.start();
  const a = app.addresses();
  return { app, graphqlUrl: `http://${a.graphql}/graphql`, readyzUrl: `http://${a.graphql}/readyz`, otlpHttp: `http://${a.otlpHttp!}`, otlpGrpc: a.otlpGrpc!, logs: lines };
}

const postSpans = (gw: Gateway, name: string) =>
  fetch(`${gw.otlpHttp}/v1/traces`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(spansJson([{ name }])) });

async function spanNames(gw: Gateway, service = 'svc'): Promise<string[]> {
  const r = await gql<{ spans: { edges: { node: { name: string } }[] } }>(gw.graphqlUrl, 'query($s: [String!]) { spans(filter: { service: $s }, first: 50) { edges { node { name } } } }', { s: service });
  if (r.errors?.length) throw new Error(JSON.stringify(r.errors));
  return r.data!.spans.edges.map((e) => e.node.name).sort();
}

async function readyz(gw: Gateway): Promise<{ status: number; body: string }> {
  const res = await fetch(gw.readyzUrl);
  return { status: res.status, body: await res.text() };
}

/** What every door of the gateway answers while the store is down, `reason` being part of the cause. */
async function assertDown(gw: Gateway, reason: RegExp): Promise<void> {
  const ready = await readyz(gw);
  assert.equal(ready.status, 503, ready.body);
  assert.match(ready.body, /could not be reopened/);
  assert.match(ready.body, reason);
  const http = await postSpans(gw, 'refused');
  assert.equal(http.status, 503, await http.text());
  assert.ok(http.headers.get('retry-after'), 'a retryable refusal says when to retry');
  const overGrpc = await grpcExport(gw.otlpGrpc, 'traces', toProtobuf('traces', spansJson([{ name: 'refused' }])));
  assert.equal(overGrpc.code, grpc.status.UNAVAILABLE, overGrpc.details);
  const query = await gql(gw.graphqlUrl, '{ spans(filter: { service: "svc" }, first: 5) { edges { node { name } } } }');
  assert.match(JSON.stringify(query.errors), reason);
  const logged = gw.logs.find((l) => /could not be reopened/.test(String(l.msg)));
  assert.ok(logged, 'the failed reopen is logged');
  assert.match(String(logged.err), reason);
}

/** Appends to `file` until the disk is full. */
function fillDisk(file: string): void {
  const fd = openSync(file, 'a');
  try {
    const block = Buffer.alloc(64 * 1024, 1);
    for (;;) writeSync(fd, block);
  } catch {
    // ENOSPC: the disk is full
  } finally {
    closeSync(fd);
  }
}

describe('a DuckDB store whose reopen failed', () => {
  const newPath = tempStorePaths('storage-reopen');

  test('is down until its file is back: /readyz 503 and OTLP refused with the reason, then it serves again without a restart', async () => {
    const path = newPath();
    const gw = await startOn(path);
    try {
      assert.equal((await postSpans(gw, 'before')).status, 200);
      await waitFor(() => spanNames(gw), (n) => n.includes('before'), 'the first span stored');

      // The file moved away and something that is not a DuckDB file in its place: the reopen's
      // ATTACH fails (as a WAL replay on a full disk does), after the old instance has closed.
      renameSync(path, `${path}.aside`);
      writeFileSync(path, 'not a DuckDB file\n'.repeat(300));
      await assert.rejects(gw.app.internals.store()!.db.reopen(), /could not be reopened/);
      await assertDown(gw, /not a valid DuckDB database file/);

      // The file back: a retry (1 s, then 2 s, …) reopens it.
      rmSync(path);
      renameSync(`${path}.aside`, path);
      await waitFor(() => readyz(gw), (r) => r.status === 200, '/readyz 200 again', 15_000);
      assert.ok(gw.logs.some((l) => l.msg === 'the DuckDB store reopened after failing: serving again'));
      assert.equal((await postSpans(gw, 'after')).status, 200);
      await waitFor(() => spanNames(gw), (n) => n.join() === 'after,before', 'the span sent after the store came back, beside the first');
    } finally {
      await gw.app.stop();
    }
  });

  test('a checkpoint failing on a full disk loses nothing, and the store serves once space is freed (tmpfs; needs root and mount)', async (t) => {
    const mnt = mkdtempSync(join(tmpdir(), 'teleql-storage-fulldisk-'));
    try {
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=16m', 'tmpfs', mnt], { stdio: 'pipe' });
    } catch (err) {
      rmSync(mnt, { recursive: true, force: true });
      t.skip(`cannot mount a 16 MB tmpfs to fill (${String((err as Error).message).split('\n')[0]}): the full-disk case is not run here`);
      return;
    }
    after(() => {
      execFileSync('umount', [mnt], { stdio: 'pipe' });
      rmSync(mnt, { recursive: true, force: true });
    });
    const path = join(mnt, 'store', 'store.duckdb');
    mkdirSync(join(mnt, 'store'));
    const gw = await startOn(path);
    const filler = join(mnt, 'filler');
    try {
      assert.equal((await postSpans(gw, 'before')).status, 200);
      await waitFor(() => spanNames(gw), (n) => n.includes('before'), 'the first span stored');
      // The disk filled, but for room for a batch in the WAL; then that room taken too. The reopen's
      // checkpoint cannot write that batch into the file, nor its WAL replay the `.wal.recovery`.
      fillDisk(filler);
      truncateSync(filler, statSync(filler).size - 2 * 1024 * 1024);
      const batch = Array.from({ length: 3000 }, (_, i) => ({ name: 'in-wal', service: 'bulk', attributes: { i, text: 'x'.repeat(100) } }));
      const inWal = await fetch(`${gw.otlpHttp}/v1/traces`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(spansJson(batch)) });
      assert.equal(inWal.status, 200);
      await waitFor(() => spanNames(gw, 'bulk'), (n) => n.length > 0, 'the batch in the WAL');
      fillDisk(filler);
      // A checkpoint now fails for want of space and invalidates the database, which the store
      // reopens. On this small WAL the reopen usually succeeds (the WAL is replayed in memory); with
      // a checkpoint WAL left by a checkpoint that failed under load, it failed (the storage QA's
      // case, which the test above stands in for): then the store is down until space is freed.
      const db = gw.app.internals.store()!.db;
      await assert.rejects(db.writeLane('spans').use((conn) => conn.run('CHECKPOINT')), /has been invalidated/);
      await waitFor(async () => db.reopens + (db.reopenFailure ? 1 : 0), (n) => n > 0, 'the reopen after the failed checkpoint');
      if (db.reopenFailure) await assertDown(gw, /No space left on device/);
      rmSync(filler);
      await waitFor(() => readyz(gw), (r) => r.status === 200, '/readyz 200 once space is free', 20_000);
      assert.equal((await postSpans(gw, 'after')).status, 200);
      await waitFor(() => spanNames(gw), (n) => n.join() === 'after,before', 'the span sent after space was freed, beside the first');
      assert.equal((await spanNames(gw, 'bulk')).length, 50, 'the batch that was in the WAL');
    } finally {
      rmSync(filler, { force: true });
      await gw.app.stop();
    }
  });
});
