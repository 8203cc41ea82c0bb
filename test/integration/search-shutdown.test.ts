// `teleql serve` with semantic search as a real process: logs acknowledged just before SIGTERM
// reach the search indexer only through the shutdown flush, and the stop indexes them before the
// store closes, so a restart finds every one (QA round 31: only the first indexer batch was).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gqlData } from '../helpers/graphql-client.ts';
import { waitFor } from '../helpers/wait-for.ts';
import { freePort } from '../helpers/free-port.ts';
import { logsJson } from '../helpers/otlp-bodies.ts';
import { TEST_MODEL } from '../fixtures/search/test-model.ts';

const BIN = new URL('../../bin/teleql.js', import.meta.url).pathname;
const TENANT = 'teardown';
const LOGS = 3000;

interface Served {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
}

function serve(config: string, env: Record<string, string>): Served {
  const child = spawn(process.execPath, [BIN, 'serve', '--config', config], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, output: () => out, exited };
}

async function untilReady(served: Served, graphqlPort: number): Promise<void> {
  try {
    await waitFor(() => fetch(`http://127.0.0.1:${graphqlPort}/readyz`).then((r) => r.status), (s) => s === 200, 'readiness', 20_000);
  } catch (err) {
    throw new Error(`${(err as Error).message}\nexit code: ${served.child.exitCode}\noutput:\n${served.output().slice(-3000)}`, { cause: err });
  }
}

/** A distinct word per i without digits (the text templates turn numbers into placeholders). */
const word = (i: number) => String.fromCharCode(97 + (i % 26), 97 + (Math.floor(i / 26) % 26), 97 + (Math.floor(i / 676) % 26));

test('SIGTERM indexes the logs still queued for search, and a restart finds every one', { timeout: 120_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'teleql-search-shutdown-'));
  const running: Served[] = [];
  try {
    const [grpc, http, graphql] = [await freePort(), await freePort(), await freePort()];
    const env = { TELEQL_OTLP_GRPC_PORT: String(grpc), TELEQL_OTLP_HTTP_PORT: String(http), TELEQL_GRAPHQL_PORT: String(graphql), TELEQL_LOG_LEVEL: 'info' };
    const config = join(dir, 'teleql.yaml');
    // The batch processor holds everything until the stop flushes it; search rounds of 50 records,
    // so the stop has many rounds to run, not one.
    writeFileSync(
      config,
      [
        'processors:',
        '  batch:',
        '    timeoutMs: 600000',
        '    sendBatchSize: 1000000',
        'storage:',
        '  duckdb:',
        `    path: ${join(dir, 'teleql.duckdb')}`,
        'search:',
        `  localModelPath: ${TEST_MODEL.localModelPath}`,
        `  model: ${TEST_MODEL.model}`,
        `  dtype: ${TEST_MODEL.dtype}`,
        '  allowRemoteModels: false',
        '  batchSize: 50',
        '',
      ].join('\n'),
    );
    const graphqlUrl = `http://127.0.0.1:${graphql}/graphql`;
    const headers = { 'x-scope-orgid': TENANT };
    const candidates = async () =>
      (await gqlData<{ search: { candidates: number } }>(graphqlUrl, '{ search(text: "teardown probe", signals: [LOG], limit: 1) { candidates } }', {}, headers)).search.candidates;

    const first = serve(config, env);
    running.push(first);
    await untilReady(first, graphql);
    // A query loads the model, so the stop below indexes with it rather than loading it.
    assert.equal(await candidates(), 0);
    for (let off = 0; off < LOGS; off += 1000) {
      const body = logsJson(Array.from({ length: 1000 }, (_, i) => ({ body: `teardown probe ${word(off + i)}`, service: 'teardown' })));
      const res = await fetch(`http://127.0.0.1:${http}/v1/logs`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
      assert.equal(res.status, 200, await res.text());
    }
    first.child.kill('SIGTERM');
    assert.equal(await first.exited, 0, first.output());

    const second = serve(config, env);
    running.push(second);
    await untilReady(second, graphql);
    assert.equal(await candidates(), LOGS, 'every log acknowledged before the stop is indexed');
    assert.match(first.output(), /indexing the queued records before stopping/);
    assert.doesNotMatch(first.output(), /stopped before every queued record was indexed/);
  } finally {
    for (const s of running) {
      if (s.child.exitCode === null && s.child.signalCode === null) {
        s.child.kill('SIGTERM');
        await s.exited;
      }
    }
    rmSync(dir, { recursive: true, force: true });
  }
});
