// Which subscriptions run compiled: graphql-jit compiles a document once, and one it cannot
// compile (variables of the recursive TelemetryFilter input) is left to the ordinary executor
// instead of failing (what @envelop/graphql-jit would do).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parse, validate, type ExecutionArgs } from 'graphql';
import { schema } from '../../../schema/index.ts';
import { compiledSubscriptionsPlugin } from '../../../src/server/compiled-subscriptions.ts';

type Hook = (p: { args: ExecutionArgs; setSubscribeFn: (fn: unknown) => void }) => void;

function compiles(hook: Hook, document: ReturnType<typeof parse>): boolean {
  let set = false;
  hook({ args: { schema, document, operationName: null } as unknown as ExecutionArgs, setSubscribeFn: () => (set = true) });
  return set;
}

test('subscriptions compile unless their variables are a recursive input type; queries never do', () => {
  const hook = compiledSubscriptionsPlugin().onSubscribe as unknown as Hook;
  const byService = parse('subscription($s: [String!]) { tailSpans(filter: { service: $s }) { dropped span { spanId name } } }');
  const inline = parse('subscription { tailLogs(filter: { or: [{ service: ["a"] }, { minSeverity: 17 }] }) { dropped log { id } } }');
  const byFilter = parse('subscription($filter: TelemetryFilter) { tailSpans(filter: $filter) { dropped span { spanId } } }');
  const query = parse('query { __typename }');
  for (const doc of [byService, inline, byFilter, query]) assert.deepEqual(validate(schema, doc), [], 'a valid document');
  assert.equal(compiles(hook, byService), true, 'list-of-string variable');
  assert.equal(compiles(hook, inline), true, 'an inline filter, however nested');
  assert.equal(compiles(hook, byFilter), false, 'a TelemetryFilter variable falls back');
  assert.equal(compiles(hook, query), false, 'not a subscription');
  // The answer is kept per document: asking again gives the same without compiling again.
  assert.equal(compiles(hook, byService), true);
  assert.equal(compiles(hook, byFilter), false);
});
