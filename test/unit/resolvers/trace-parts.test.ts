// trace(traceId) reads only the span parts its selection needs (resolvers/span-selection.ts): the
// answers must be those of a whole-span read, and partial spans must never reach another field.
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, test } from 'node:test';
import { getNamedType, isObjectType, parse, type FieldNode, type OperationDefinitionNode } from 'graphql';
import { schema } from '../../../schema/index.ts';
import { SPAN_FIELD_PARTS, TRACE_FIELD_PARTS, tracePartsOf } from '../../../resolvers/span-selection.ts';
import type { SpanPart, TraceStore } from '../../../src/stores/types.ts';
import { openDuckDbStore, type DuckDbStore } from '../../../src/stores/duckdb/index.ts';
import { silentLogger } from '../../../src/logger.ts';
import { harnessFor, type Harness } from './harness.ts';
import { A_DB, A_LOAD, A_ROOT, logs, metricPoints, otherTenantSpans, spans, TRACE_A } from './telemetry-fixture.ts';

/** The parts tracePartsOf finds in `query`'s first field (null: whole spans). */
function partsOf(query: string): string[] | null {
  const doc = parse(query);
  const op = doc.definitions.find((d): d is OperationDefinitionNode => d.kind === 'OperationDefinition')!;
  const fragments = Object.fromEntries(doc.definitions.flatMap((d) => (d.kind === 'FragmentDefinition' ? [[d.name.value, d]] : [])));
  const parts = tracePartsOf({ fieldNodes: [op.selectionSet.selections[0] as FieldNode], fragments });
  return parts && [...parts].sort();
}

describe('tracePartsOf', () => {
  test('every field of Trace and Span is listed, so none is read partially by mistake', () => {
    for (const [type, listed] of [['Trace', TRACE_FIELD_PARTS], ['Span', SPAN_FIELD_PARTS]] as const) {
      const t = schema.getType(type);
      assert.ok(isObjectType(t));
      const missing = Object.keys(t.getFields()).filter((f) => !(f in listed));
      assert.deepEqual(missing, [], `${type} fields missing from span-selection.ts: decide which span parts each reads`);
    }
    // the spans-valued Trace fields are the ones whose type is Span
    const trace = schema.getType('Trace');
    assert.ok(isObjectType(trace));
    const spanValued = Object.values(trace.getFields()).filter((f) => getNamedType(f.type).name === 'Span').map((f) => f.name).sort();
    assert.deepEqual(spanValued, Object.entries(TRACE_FIELD_PARTS).filter(([, v]) => v === 'spans').map(([k]) => k).sort());
  });

  test('IDs, names and times need no optional part', () => {
    assert.deepEqual(partsOf('{ trace(traceId: "x") { traceId spanCount duration spans { spanId parentSpanId name kind startTime duration status { code message } } } }'), []);
  });

  test('each part comes from the fields that read it', () => {
    assert.deepEqual(partsOf('{ trace(traceId: "x") { spans { attributes } } }'), ['attributes']);
    assert.deepEqual(partsOf('{ trace(traceId: "x") { rootSpan { attribute(key: "k") { key } events { name } } } }'), ['attributes', 'events']);
    assert.deepEqual(partsOf('{ trace(traceId: "x") { services span(spanId: "y") { links { spanId } scope { name } } } }'), ['links', 'resource', 'scope']);
  });

  test('fragments and inline fragments are followed', () => {
    assert.deepEqual(partsOf('query { trace(traceId: "x") { ...T } } fragment T on Trace { spans { ...S } } fragment S on Span { service }'), ['resource']);
    assert.deepEqual(partsOf('{ trace(traceId: "x") { ... on Trace { spans { ... on Span { events { name } } } } } }'), ['events']);
  });

  test('every part, or a field not listed, means whole spans', () => {
    assert.equal(partsOf('{ trace(traceId: "x") { spans { attributes events { name } links { spanId } resource { droppedAttributesCount } scope { name } } } }'), null);
    assert.equal(partsOf('{ trace(traceId: "x") { notAField } }'), null);
    assert.equal(partsOf('{ trace(traceId: "x") { spans { notAField } } }'), null);
  });

  test('a parent, child or trace of a span asks nothing of the partial spans (they load whole spans)', () => {
    assert.deepEqual(partsOf('{ trace(traceId: "x") { spans { spanId parent { events { name } resource { schemaUrl } } children { links { spanId } } } } }'), []);
  });
});

describe('trace(traceId) with partial reads', () => {
  let store: DuckDbStore;
  let h: Harness;
  const parts: (ReadonlySet<SpanPart> | undefined)[] = [];
  before(async () => {
    store = await openDuckDbStore({ path: ':memory:', logger: silentLogger() });
    await store.writer.writeSpans([...spans, ...otherTenantSpans]);
    await store.writer.writeLogs(logs);
    await store.writer.writeMetrics(metricPoints);
    const traces: TraceStore = {
      ...store.traces,
      getTraces: (tenant, ids, only) => {
        parts.push(only);
        return store.traces.getTraces(tenant, ids, only);
      },
    };
    h = harnessFor({ ...store, traces });
  });
  after(() => store.close());
  beforeEach(() => {
    parts.length = 0;
    h.calls.clear();
  });

  const FULL = `spanId parentSpanId name kind startTimeUnixNano endTimeUnixNano traceState flags status { code message }
    attributes droppedAttributesCount events { name attributes } links { traceId spanId attributes } resource { attributes schemaUrl }
    scope { name version attributes } service`;

  test('the store is asked for only the parts the selection reads', async () => {
    const { errors } = await h.run(`{ trace(traceId: "${TRACE_A}") { spans { spanId name attributes } } }`);
    assert.equal(errors, undefined);
    assert.deepEqual(parts.map((p) => p && [...p].sort()), [['attributes']]);
  });

  test('each field answers as from a whole-span read', async () => {
    const whole = await h.run(`{ trace(traceId: "${TRACE_A}") { spans { ${FULL} } } }`);
    assert.equal(whole.errors, undefined);
    assert.deepEqual(parts, [undefined]); // all parts: a whole read
    const wholeSpans = (whole.data as { trace: { spans: Record<string, unknown>[] } }).trace.spans;
    assert.equal(wholeSpans.length, 3);
    assert.ok(wholeSpans.some((s) => (s.events as unknown[]).length === 1) && wholeSpans.some((s) => (s.links as unknown[]).length === 1));
    // Each field alone, read partially, gives the same values as the whole read.
    for (const field of ['spanId name status { code message } traceState', 'attributes', 'events { name attributes }', 'links { traceId spanId attributes }', 'resource { attributes schemaUrl } service', 'scope { name version attributes }']) {
      parts.length = 0;
      const got = await h.run(`{ trace(traceId: "${TRACE_A}") { spans { spanId ${field} } } }`);
      assert.equal(got.errors, undefined);
      assert.ok(parts[0], `${field}: read partially`);
      const keys = Object.keys((got.data as { trace: { spans: Record<string, unknown>[] } }).trace.spans[0]!);
      const expected = wholeSpans.map((s) => Object.fromEntries(keys.map((k) => [k, s[k]])));
      assert.deepEqual((got.data as { trace: { spans: unknown[] } }).trace.spans, expected, field);
    }
  });

  test('a partial read primes no span lookup: span(), parent and log → span get whole spans', async () => {
    const { data, errors } = await h.run(`{
      trace(traceId: "${TRACE_A}") { spans { spanId parent { spanId events { name } resource { attributes } } } }
      span(traceId: "${TRACE_A}", spanId: "${A_ROOT}") { events { name } links { spanId } scope { name } attributes }
    }`);
    assert.equal(errors, undefined);
    const d = data as {
      trace: { spans: { spanId: string; parent: { spanId: string; events: { name: string }[]; resource: { attributes: unknown } } | null }[] };
      span: { events: { name: string }[]; scope: { name: string }; attributes: object };
    };
    assert.deepEqual(d.span.events.map((e) => e.name), ['cache.miss']);
    assert.equal(d.span.scope.name, 'teleql-test');
    assert.equal(Object.keys(d.span.attributes).length, 4);
    const load = d.trace.spans.find((s) => s.spanId === A_LOAD)!;
    assert.equal(load.parent?.spanId, A_ROOT);
    assert.deepEqual(load.parent.events.map((e) => e.name), ['cache.miss']);
    assert.match(JSON.stringify(load.parent.resource.attributes), /service\.name/);
    assert.equal(d.trace.spans.find((s) => s.spanId === A_DB)!.parent?.spanId, A_LOAD);
    // one partial read (no parts) for the trace, one whole read for the parents
    assert.deepEqual(parts.map((p) => p && [...p]), [[], undefined]);
  });

  test('two traces with the same parts batch into one call; different parts do not share spans', async () => {
    const { data, errors } = await h.run(`{
      a: trace(traceId: "${TRACE_A}") { spans { spanId } }
      b: trace(traceId: "${TRACE_A.toUpperCase()}") { spans { spanId } }
      c: trace(traceId: "${TRACE_A}") { spans { spanId events { name } } }
    }`);
    assert.equal(errors, undefined);
    assert.equal(h.calls.get('traces.getTraces'), 2);
    assert.deepEqual(parts.map((p) => p && [...p].sort()).sort(), [[], ['events']]);
    const d = data as Record<'a' | 'c', { spans: { spanId: string; events?: { name: string }[] }[] }>;
    assert.deepEqual(d.a.spans.map((s) => s.spanId), d.c.spans.map((s) => s.spanId));
    assert.deepEqual(d.c.spans.find((s) => s.spanId === A_ROOT)!.events!.map((e) => e.name), ['cache.miss']);
  });

  test('an unknown trace is null', async () => {
    const { data } = await h.run('{ trace(traceId: "ffffffffffffffffffffffffffffffff") { spans { spanId } } }');
    assert.deepEqual(data, { trace: null });
  });

});
