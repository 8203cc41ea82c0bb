import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createTraceAssembler, type TraceAssemblyConfig, type TraceAssemblyStats } from '../../../src/tail/trace-assembler.ts';
import type { AssembledTrace } from '../../../src/tail/topics.ts';
import { span, spanId, traceId, T0 } from '../../helpers/telemetry-builders.ts';

const CFG: TraceAssemblyConfig = { rootWaitMs: 100, quietMs: 1000, maxTraces: 3, maxSpansPerTrace: 4 };

function setup(cfg: Partial<TraceAssemblyConfig> = {}) {
  let now = 0;
  const out: AssembledTrace[] = [];
  const stats: TraceAssemblyStats = { evicted: 0, droppedSpans: 0, lateSpans: 0 };
  const a = createTraceAssembler('t1', { ...CFG, ...cfg }, (ts) => out.push(...ts), stats, () => now);
  return { a, out, stats, at: (ms: number) => ((now = ms), a.tick(ms)) };
}
const child = (t: number, s: number, startOffset = 1n) => span({ tenant: 't1', traceId: traceId(t), spanId: spanId(s), parentSpanId: spanId(1), startTimeUnixNano: T0 + startOffset });
const root = (t: number) => span({ tenant: 't1', traceId: traceId(t), spanId: spanId(1), parentSpanId: '' });

describe('trace assembler', () => {
  test('a trace is sent rootWaitMs after its root arrives, with the stragglers, sorted by start time', () => {
    const { a, out, at } = setup();
    a.add([child(1, 2, 5n)]);
    a.add([root(1)]);
    at(50);
    a.add([child(1, 3, 2n)]);
    assert.equal(out.length, 0);
    at(100);
    assert.equal(out.length, 1);
    assert.equal(out[0]!.reason, 'ROOT_ENDED');
    assert.equal(out[0]!.tenant, 't1');
    assert.deepEqual(out[0]!.spans.map((s) => Number.parseInt(s.spanId, 16)), [1, 3, 2]);
    assert.equal(a.size(), 0);
  });

  test('a span received twice (a retried export) is one span of the trace sent, as trace() reads it', () => {
    const { a, out, at } = setup();
    a.add([root(1), child(1, 2)]);
    a.add([root(1), child(1, 2)]);
    at(100);
    assert.deepEqual(out[0]!.spans.map((s) => Number.parseInt(s.spanId, 16)), [1, 2]);
  });

  test('a trace without a root is sent after quietMs without new spans; each new span restarts the wait', () => {
    const { a, out, at } = setup();
    a.add([child(1, 2)]);
    at(900);
    a.add([child(1, 3)]);
    at(1800);
    assert.equal(out.length, 0);
    at(1900);
    assert.deepEqual(out.map((t) => [t.reason, t.spans.length]), [['QUIET', 2]]);
  });

  test('at maxTraces a new trace evicts the least recently active one, sent at once', () => {
    const { a, out, stats } = setup();
    a.add([child(1, 2), child(2, 2), child(3, 2)]);
    a.add([child(1, 3)]); // trace 1 active again: trace 2 is now the least recent
    a.add([child(4, 2)]);
    assert.deepEqual(out.map((t) => [t.traceId, t.reason]), [[traceId(2), 'EVICTED']]);
    assert.equal(stats.evicted, 1);
    assert.equal(a.size(), 3);
  });

  test('spans beyond maxSpansPerTrace are counted, the root is always kept, late spans are dropped and counted', () => {
    const { a, out, stats, at } = setup({ maxSpansPerTrace: 2 });
    a.add([child(1, 2), child(1, 3), child(1, 4), root(1)]);
    at(100);
    assert.equal(out.length, 1);
    assert.deepEqual(out[0]!.spans.map((s) => Number.parseInt(s.spanId, 16)), [1, 2]);
    assert.equal(out[0]!.droppedSpans, 2);
    assert.equal(stats.droppedSpans, 2);
    a.add([child(1, 9)]);
    at(5000);
    assert.equal(out.length, 1, 'no second copy of the trace');
    assert.equal(stats.lateSpans, 1);
  });

  test('with rootWaitMs 0 a trace is sent as its root arrives', () => {
    const { a, out } = setup({ rootWaitMs: 0 });
    a.add([child(7, 2), root(7)]);
    assert.deepEqual(out.map((t) => [t.traceId, t.reason, t.spans.length]), [[traceId(7), 'ROOT_ENDED', 2]]);
  });
});
