// The store writer's steps in a running gateway: storage.duckdb.writeStepMs and writeStepRows from
// the config reach the writer, and with 1 ms steps that end inside 2,048-row data chunks a live
// tail still gets every span once, every span is stored, and /metrics counts the steps.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startGateway } from '../helpers/gateway.ts';
import { waitFor } from '../helpers/wait-for.ts';
import { hex, nowNs, postOtlp, spansBody, subscriptions, tail, wsClient } from '../helpers/tail-client.ts';

test('1 ms writer steps in 2,048-row chunks: a live tail gets every span once, every span is stored, /metrics counts the steps', async () => {
  const gw = await startGateway({ storage: { duckdb: { writeStepMs: 1, writeStepRows: 2048 } }, tail: { bufferSize: 10_000 } });
  const client = wsClient(gw, 'steps');
  try {
    const t = tail<{ tailSpans: { dropped: number; span: { spanId: string } } }>(client, 'subscription { tailSpans(filter: { service: ["steps-svc"] }) { dropped span { spanId } } }');
    await subscriptions(gw, 1);
    const t0 = nowNs();
    const perRequest = 2500;
    for (let r = 0; r < 2; r++) {
      const spans = Array.from({ length: perRequest }, (_, i) => ({ traceId: hex(1000 + r * 200 + Math.floor(i / 25), 32), spanId: hex(r * perRequest + i + 1, 16), name: `op-${i % 7}`, startNs: t0 + BigInt(i) }));
      assert.equal(await postOtlp(gw, '/v1/traces', spansBody('steps-svc', spans), 'steps'), 200);
    }
    const total = 2 * perRequest;
    await waitFor(async () => t.events.length, (n) => n >= total, 'every span on the live tail');
    assert.deepEqual(t.errors, []);
    assert.equal(new Set(t.events.map((e) => e.tailSpans.span.spanId)).size, total, 'each span once');
    assert.equal(t.events.filter((e) => e.tailSpans.dropped > 0).length, 0);

    const store = gw.app.internals.store()!;
    await waitFor(async () => store.stats().rowsWritten.spans, (n) => n >= total, 'every span stored');
    const { rowsWritten, appendSteps, longestStepMs } = store.stats();
    assert.equal(rowsWritten.spans, total);
    // Each chunk is one step at least and, being 2,048 rows or a batch's last, is followed by a flush step.
    assert.ok(appendSteps.spans >= 2 * Math.ceil(total / 2048), `${appendSteps.spans} steps`);
    assert.ok(longestStepMs.spans > 0);
    const metrics = await (await fetch(gw.graphqlUrl.replace(/\/graphql$/, '/metrics'))).text();
    assert.match(metrics, new RegExp(`^teleql_duckdb_append_steps_total\\{table="spans"\\} ${appendSteps.spans}$`, 'm'));
    const longest = metrics.match(/^teleql_duckdb_append_step_longest_seconds\{table="spans"\} (\S+)$/m);
    assert.ok(longest, 'longest step gauge on /metrics');
    assert.ok(Number(longest[1]) > 0 && Number(longest[1]) >= longestStepMs.spans / 1000 - 1e-9, longest[1]);
    t.stop();
    await subscriptions(gw, 0);
  } finally {
    await client.dispose();
    await gw.stop();
  }
});
