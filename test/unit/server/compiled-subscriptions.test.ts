// Which subscriptions run compiled: graphql-jit compiles a document once, without the root
// field's arguments that use a recursive TelemetryFilter variable (graphql-jit cannot compile
// those); a selection that itself uses one is left to the ordinary executor instead of failing
// (what @envelop/graphql-jit would do).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { getOperationAST, parse, print, validate, type ExecutionArgs } from 'graphql';
import { schema } from '../../../schema/index.ts';
import { compiledSubscriptionsPlugin, perEventDocument } from '../../../src/server/compiled-subscriptions.ts';

type Hook = (p: { args: ExecutionArgs; setSubscribeFn: (fn: unknown) => void }) => void;

function compiles(hook: Hook, document: ReturnType<typeof parse>): boolean {
  let set = false;
  hook({ args: { schema, document, operationName: null } as unknown as ExecutionArgs, setSubscribeFn: () => (set = true) });
  return set;
}

test('subscriptions compile, also with a TelemetryFilter variable; queries never do; tail.compiled false turns it off', () => {
  const hook = compiledSubscriptionsPlugin().onSubscribe as unknown as Hook;
  const byService = parse('subscription($s: [String!]) { tailSpans(filter: { service: $s }) { dropped span { spanId name } } }');
  const inline = parse('subscription { tailLogs(filter: { or: [{ service: ["a"] }, { minSeverity: 17 }] }) { dropped log { id } } }');
  const byFilter = parse('subscription($filter: TelemetryFilter) { tailSpans(filter: $filter) { dropped span { spanId } } }');
  const query = parse('query { __typename }');
  for (const doc of [byService, inline, byFilter, query]) assert.deepEqual(validate(schema, doc), [], 'a valid document');
  assert.equal(compiles(hook, byService), true, 'list-of-string variable');
  assert.equal(compiles(hook, inline), true, 'an inline filter, however nested');
  assert.equal(compiles(hook, byFilter), true, 'a TelemetryFilter variable (left out of the per-event document)');
  assert.equal(compiles(hook, query), false, 'not a subscription');
  // The answer is kept per document: asking again gives the same without compiling again.
  assert.equal(compiles(hook, byService), true);
  const off = compiledSubscriptionsPlugin(false).onSubscribe as unknown as Hook;
  assert.equal(compiles(off, byService), false, 'tail.compiled: false');
});

test('the per-event document drops only the arguments and variables that hold a TelemetryFilter', () => {
  const perEvent = (text: string) => {
    const doc = parse(text);
    const out = perEventDocument(schema, doc, getOperationAST(doc)!);
    return out && print(out).replace(/\s+/g, ' ');
  };
  assert.equal(
    perEvent('subscription($f: TelemetryFilter, $since: Timestamp) { tailSpans(filter: $f, since: $since) { dropped ...S } } fragment S on SpanTailEvent { span { name } }'),
    'subscription ($since: Timestamp) { tailSpans(since: $since) { dropped ...S } } fragment S on SpanTailEvent { span { name } }',
  );
  assert.equal(
    perEvent('subscription($name: String!) { tailMetrics(name: $name, labels: { job: "a" }) { point { time } } }'),
    'subscription ($name: String!) { tailMetrics(name: $name, labels: {job: "a"}) { point { time } } }',
  );
  // A selection that itself used the variable would need it per event: not compiled. (No field under
  // a tail event takes a TelemetryFilter today; this document is only parsed, not validated.)
  assert.equal(perEvent('subscription($f: TelemetryFilter) { tailSpans(filter: $f) { span { trace { spans(filter: $f) { name } } } } }'), undefined);
});
