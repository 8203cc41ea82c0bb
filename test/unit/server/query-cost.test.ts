// The cost of an operation from its list sizes, on the gateway's schema.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isObjectType, isInterfaceType, parse } from 'graphql';
import { schema } from '../../../schema/index.ts';
import { MAX_LIST_SIZE, RECORD_PART_LIST_SIZE, queryCost } from '../../../src/server/query-cost.ts';

const cost = (query: string, variables?: Record<string, unknown>) => queryCost(schema, parse(query), undefined, variables, 100);

test('a list costs the size it asks for, as a literal or a variable, beyond 1,000 too', () => {
  // Found by security QA: sizes were counted as at most 1,000, and alertHistory takes up to 10,000.
  assert.equal(cost('{ alertHistory(limit: 10000) { at value } }'), 3 * 10_000);
  assert.equal(cost('query($n: Int) { alertHistory(limit: $n) { at } }', { n: 10_000 }), 2 * 10_000);
  assert.equal(cost('{ alertHistory(limit: 1000) { at } }'), 2 * 1000);
  assert.equal(cost('{ spans(first: 5000) { nodes { name } } }'), 3 * 5000);
});

test('a size no field takes counts as the largest one does, so its resolver gives the precise error', () => {
  assert.equal(cost('{ spans(first: 100000) { edges { cursor } } }'), 3 * MAX_LIST_SIZE);
  assert.equal(cost('{ alertHistory(limit: 1e300) { at } }'), 2 * MAX_LIST_SIZE);
});

test('a size argument with a schema default counts its default; a list without one counts defaultListSize', () => {
  assert.equal(cost('{ attributeValues(signal: SPANS, key: "k") }'), 100);
  assert.equal(cost('{ alertHistory { at } }'), 2 * 100);
});

test('MAX_LIST_SIZE is the largest bound the schema documents for a list size argument', () => {
  const bounds: [string, number][] = [];
  for (const type of Object.values(schema.getTypeMap())) {
    if (type.name.startsWith('__') || !(isObjectType(type) || isInterfaceType(type))) continue;
    for (const field of Object.values(type.getFields())) {
      for (const arg of field.args) {
        if (!['first', 'limit', 'last'].includes(arg.name)) continue;
        const documented = /^1–([\d,]+)/.exec(arg.description ?? '');
        assert.ok(documented, `${type.name}.${field.name}(${arg.name}) documents its bound as "1–N" (${JSON.stringify(arg.description)})`);
        bounds.push([`${type.name}.${field.name}`, Number(documented[1]!.replaceAll(',', ''))]);
      }
    }
  }
  assert.ok(bounds.length > 10, 'the size arguments were found');
  assert.equal(Math.max(...bounds.map(([, n]) => n)), MAX_LIST_SIZE, JSON.stringify(bounds));
});

test("a list of a record's own parts (typed attributes, span events) counts RECORD_PART_LIST_SIZE, so a whole-trace view fits maxCost", () => {
  // Found by QA: this Jaeger-style view of one trace cost 4,060,201 against maxCost's default 200,000.
  const view = '{ trace(traceId: "0af7651916cd43dd8448eb211c80319c") { spans { spanId typedAttributes { key type value } events { name typedAttributes { key type value } } } } }';
  const [s, parts] = [100, RECORD_PART_LIST_SIZE];
  assert.equal(cost(view), 1 + s + s + s * parts * 4 + s * parts * 2 + s * parts * parts * 4);
  assert.ok(cost(view) < 200_000);
  // Links lead to other records (their span, their trace): a page of defaultListSize.
  assert.equal(cost('{ spans(first: 10) { nodes { links { span { name } } } } }'), 10 + 10 + 10 * 100 + 10 * 100 + 10 * 100);
});

test("an alert's evidence exemplars and exception groups are its own parts: the documented evidence query, with a few fields more, fits maxCost", () => {
  // Found by alerting QA: docs/alerting.md's query plus spanId and fingerprint cost 202,400 (> 200,000).
  const q = `{ alerts(state: [FIRING]) { labels value fingerprint evidence { value exemplars { traceId spanId error duration }
    traces(limit: 3) { traceId errorCount logs { severityText body } } exceptionGroups { type message count sampleTraceId } } rule { name } } }`;
  const [a, parts] = [100, RECORD_PART_LIST_SIZE];
  // alerts and its 3 scalars, evidence and value, exemplars' parts (4 fields), 3 traces (2 fields, logs of 100 with 2 fields), groups (4 fields), rule and name.
  const expected = a * 4 + a * 2 + a * parts * 5 + a * 3 * 3 + a * 3 * 100 * 3 + a * parts * 5 + a * 2;
  assert.equal(cost(q), expected);
  assert.ok(cost(q) < 200_000);
});

test('a variable the request does not send costs its default in the operation, as the executor runs it (security QA)', () => {
  // Found by security QA: `query($n: Int = 1000) { spans(first: $n) … }` with no variables cost the
  // field's default of 50 per list and ran with 1,000, so maxCost and costPerSecond were bypassed.
  const q = 'query($n: Int = 1000) { spans(first: $n) { nodes { name logs(first: $n) { body } } } }';
  // spans, its page of nodes and name: n each; logs and body: n·n each.
  assert.equal(cost(q, {}), 3 * 1000 + 2 * 1000 * 1000);
  assert.equal(cost(q), cost(q, { n: 1000 }), 'no variables at all');
  assert.equal(cost(q, { n: 10 }), 3 * 10 + 2 * 10 * 10, 'a sent value wins');
  assert.equal(cost('query($n: Int = 1000) { alertHistory(limit: $n) { at } }', { n: null }), 2 * 100, 'null sent: the field default, as the resolver uses');
  assert.equal(queryCost(schema, parse('query A { services } query B($n: Int = 7000) { alertHistory(limit: $n) { at } }'), 'B', undefined, 100), 2 * 7000, 'the named operation\'s defaults');
});
