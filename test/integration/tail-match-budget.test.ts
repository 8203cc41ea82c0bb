// A tenant's tails are budgeted in matching time (tail.matchBudgetMs per 10 s): a regex tail over
// long values, bounded per match, could still hold the event loop for every tenant when a tenant
// opened many (code review, session 32). Past the budget the costliest tail ends with
// GW_LIMIT_EXCEEDED naming the limit, over graphql-ws and over SSE, and the other tails go on.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Client } from 'graphql-ws';
import { startGateway, type TestGateway } from '../helpers/gateway.ts';
import { waitFor } from '../helpers/wait-for.ts';
import { hex, nowNs, postOtlp, spansBody, subscriptions, tail, wsClient } from '../helpers/tail-client.ts';

const TENANT = 'budget';
const REGEX_TAIL = `subscription($re: String!) {
  tailSpans(filter: { service: ["budget-svc"], attributes: [{ key: "payload", regex: $re }] }) { span { name } }
}`;
const PLAIN_TAIL = 'subscription { tailSpans(filter: { service: ["budget-svc"] }) { span { name } } }';
// Within the pattern bound (128 states), among the costliest there are: V8's linear engine steps
// every state for every one of a long value's characters.
const COSTLY = `.*${'a{0,16}'.repeat(7)}.*b`;

interface SpanEvent {
  tailSpans: { span: { name: string } };
}

describe('tail matching budget', () => {
  let gw: TestGateway;
  const clients: Client[] = [];

  before(async () => {
    gw = await startGateway({ tail: { matchBudgetMs: 50 } });
  });
  after(async () => {
    await Promise.all(clients.map((c) => c.dispose()));
    await gw?.stop();
  });

  /** Spans whose payload is 16,000 a's: each costs the regex tail tens of ms. */
  const postCostlySpans = (n: number, from: number, tenant = TENANT) =>
    postOtlp(
      gw,
      '/v1/traces',
      spansBody(
        'budget-svc',
        Array.from({ length: n }, (_, i) => ({ traceId: hex(from + i, 32), spanId: hex(from + i, 16), name: `span ${from + i}`, startNs: nowNs(), attributes: { payload: 'a'.repeat(16_000) } })),
      ),
      tenant,
    );

  test("over graphql-ws the costly tail ends with GW_LIMIT_EXCEEDED naming tail.matchBudgetMs, the tenant's new tails are refused until the window ends, another tenant's go on", async () => {
    const c = wsClient(gw, TENANT);
    const o = wsClient(gw, 'budget-other');
    clients.push(c, o);
    const costly = tail<SpanEvent>(c, REGEX_TAIL, { re: COSTLY });
    const other = tail<SpanEvent>(o, PLAIN_TAIL);
    await subscriptions(gw, 2).catch((err: unknown) => assert.fail(`${String(err)}: ${JSON.stringify([costly.errors, other.errors])}`));
    // Enough records to pass the budget whatever the machine's speed; each is matched, none accepted.
    for (let i = 0; i < 20 && costly.errors.length === 0; i++) assert.equal(await postCostlySpans(5, i * 5), 200);
    await costly.done;
    assert.equal(costly.errors.length, 1);
    assert.equal(costly.errors[0]!.extensions?.code, 'GW_LIMIT_EXCEEDED');
    assert.equal(costly.errors[0]!.extensions?.limit, 'tail.matchBudgetMs');
    assert.match(costly.errors[0]!.message, /\(tail\.matchBudgetMs = 50\), this tail's filter \d+ ms of it; its tails are ended and new ones refused/);
    const again = tail<SpanEvent>(c, PLAIN_TAIL);
    await again.done;
    assert.equal(again.errors[0]?.extensions?.code, 'GW_LIMIT_EXCEEDED', 'subscribing again within the window is refused');
    await subscriptions(gw, 1);
    assert.equal(await postOtlp(gw, '/v1/traces', spansBody('budget-svc', [{ traceId: hex(999, 32), spanId: hex(999, 16), name: 'after', startNs: nowNs() }]), 'budget-other'), 200);
    await waitFor(async () => other.events.map((e) => e.tailSpans.span.name), (names) => names.includes('after'), "another tenant's tail still delivers");
    assert.deepEqual(other.errors, []);
    other.stop();
    await subscriptions(gw, 0);
  });

  test('over SSE the stream gets the same error', async () => {
    const abort = new AbortController();
    const res = await fetch(gw.graphqlUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'text/event-stream', 'X-Scope-OrgID': 'budget-sse' },
      body: JSON.stringify({ query: REGEX_TAIL, variables: { re: COSTLY } }),
      signal: abort.signal,
    });
    assert.equal(res.status, 200);
    await subscriptions(gw, 1);
    const reader = res.body!.getReader();
    const decoder = new TextDecoder();
    let text = '';
    const errorEvent = (async () => {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return undefined;
        text += decoder.decode(value, { stream: true });
        const data = text
          .split('\n\n')
          .flatMap((block) => block.split('\n'))
          .find((line) => line.startsWith('data: ') && line.includes('GW_LIMIT_EXCEEDED'));
        if (data) return JSON.parse(data.slice(6)) as { errors?: { message: string; extensions?: Record<string, unknown> }[] };
      }
    })();
    let found: Awaited<typeof errorEvent> | undefined;
    void errorEvent.then((e) => (found = e));
    for (let i = 0; i < 20 && found === undefined; i++) assert.equal(await postCostlySpans(5, 500 + i * 5, 'budget-sse'), 200);
    const event = await errorEvent;
    abort.abort();
    assert.equal(event?.errors?.[0]?.extensions?.code, 'GW_LIMIT_EXCEEDED');
    assert.equal(event?.errors?.[0]?.extensions?.limit, 'tail.matchBudgetMs');
    await subscriptions(gw, 0);
  });
});
