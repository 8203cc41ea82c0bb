// OTLP/JSON text that JSON.parse alone reads wrong (QA round 30, fidelity D2 and D3): a lone UTF-16
// surrogate escape becomes U+FFFD in every string of every signal (as invalid UTF-8 does), and a
// refusal quotes an integer past 2^53 as it was sent, never as JSON.parse rounded it.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decodeRequest } from '../../../src/otlp/codec.ts';
import type { Signal } from '../../../src/model/telemetry.ts';

const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const SPAN_ID = '00f067aa0ba902b7';
/** Stands for a lone surrogate in the objects below; the JSON text gets `\ud800` or `\uDC00` in its place. */
const LONE = 'LONE';

const str = (v: string) => ({ stringValue: v });
const attrs = [
  { key: `k${LONE}`, value: str(`v${LONE}`) },
  { key: 'nested', value: { arrayValue: { values: [str(LONE), { kvlistValue: { values: [{ key: LONE, value: str(LONE) }] } }] } } },
];
const resource = { attributes: [...attrs, { key: 'service.name', value: str(`svc${LONE}`) }] };
const scope = { name: `scope${LONE}`, version: `v${LONE}`, attributes: attrs };

const REQUESTS: Record<Signal, unknown> = {
  traces: {
    resourceSpans: [{ resource, schemaUrl: `u${LONE}`, scopeSpans: [{ scope, schemaUrl: `u${LONE}`, spans: [{
      traceId: TRACE_ID, spanId: SPAN_ID, traceState: `a=${LONE}`, name: `n${LONE}`, startTimeUnixNano: '1', endTimeUnixNano: '2', attributes: attrs,
      status: { code: 2, message: `m${LONE}` },
      events: [{ name: `e${LONE}`, timeUnixNano: '1', attributes: attrs }],
      links: [{ traceId: TRACE_ID, spanId: SPAN_ID, traceState: `b=${LONE}`, attributes: attrs }],
    }] }] }],
  },
  logs: {
    resourceLogs: [{ resource, scopeLogs: [{ scope, logRecords: [
      { timeUnixNano: '1', severityText: `t${LONE}`, body: str(`b${LONE}`), attributes: attrs, eventName: `ev${LONE}` },
      { timeUnixNano: '1', body: { kvlistValue: { values: [{ key: LONE, value: { arrayValue: { values: [str(LONE)] } } }] } } },
    ] }] }],
  },
  metrics: {
    resourceMetrics: [{ resource, scopeMetrics: [{ scope, metrics: [{
      name: `m${LONE}`, description: `d${LONE}`, unit: `u${LONE}`, metadata: attrs,
      gauge: { dataPoints: [{ timeUnixNano: '1', asDouble: 1, attributes: attrs, exemplars: [{ timeUnixNano: '1', asDouble: 1, filteredAttributes: attrs }] }] },
    }] }] }],
  },
};

/** Every string in `v` (keys of records too), bigints and other leaves skipped. */
function strings(v: unknown, out: string[] = []): string[] {
  if (typeof v === 'string') out.push(v);
  else if (Array.isArray(v)) for (const e of v) strings(e, out);
  else if (v !== null && typeof v === 'object') {
    for (const [k, e] of Object.entries(v)) {
      out.push(k);
      strings(e, out);
    }
  }
  return out;
}

const isWellFormed = (s: string) => (s as string & { isWellFormed(): boolean }).isWellFormed();

for (const signal of ['traces', 'logs', 'metrics'] as const) {
  test(`every string of ${signal} decoded from OTLP/JSON is well-formed: a lone surrogate escape reads as U+FFFD`, () => {
    const json = JSON.stringify(REQUESTS[signal]);
    for (const [escape, variant] of [['\\ud800', 'high'], ['\\uDC00', 'low, upper-case escape']] as const) {
      for (const exact of [false, true]) {
        // `exact`: an int64 written as a number past 2^53 makes the codec parse the text again exactly.
        const text = json.replaceAll(LONE, escape).replace('"timeUnixNano":"1"', exact ? '"timeUnixNano":9007199254740993' : '"timeUnixNano":"1"');
        const decoded = decodeRequest(signal, Buffer.from(text), 'json', 't');
        assert.deepEqual(decoded.rejected, [], variant);
        const all = strings(decoded.items);
        const ill = all.filter((s) => !isWellFormed(s));
        assert.deepEqual(ill, [], `${variant}, exact ${exact}`);
        const replaced = all.filter((s) => s.includes('\ufffd'));
        assert.ok(replaced.length >= 10, `${variant}, exact ${exact}: ${replaced.length} strings with U+FFFD`);
        assert.ok(!all.some((s) => s.includes(LONE)), 'every marker was replaced');
      }
    }
  });
}

test('a surrogate pair written as escapes is kept, and \\ud800 (an escaped backslash, then ud800) is text', () => {
  const text = JSON.stringify({ resourceLogs: [{ scopeLogs: [{ logRecords: [{ timeUnixNano: '1', body: str('PAIR'), severityText: 'a\\ud800 (an escaped backslash)' }] }] }] });
  const [record] = decodeRequest('logs', Buffer.from(text.replace('PAIR', '\\ud83d\\ude00')), 'json', 't').items;
  assert.deepEqual(record!.body, { stringValue: '\u{1F600}' });
  assert.equal(record!.severityText, 'a\\ud800 (an escaped backslash)');
});

test('a refusal quotes an integer past 2^53 as it was sent, not as JSON.parse rounded it', () => {
  const span = (extra: string) => `{"traceId":"${TRACE_ID}","spanId":"${SPAN_ID}","startTimeUnixNano":"1",${extra}}`;
  const request = (spans: string[], resource = '{}') => Buffer.from(`{"resourceSpans":[{"resource":${resource},"scopeSpans":[{"spans":[${spans.join(',')}]}]}]}`);
  const reasons = decodeRequest('traces', request([span('"kind":9223372036854775807'), span('"droppedAttributesCount":-9007199254740993'), span('"flags":18446744073709551617')]), 'json', 't').rejected.map((r) => r.reason);
  assert.deepEqual(reasons, [
    'kind "9223372036854775807" is not a valid value',
    'dropped_attributes_count must be an integer from 0 to 18446744073709551615, got -9007199254740993',
    'flags must be an integer from 0 to 18446744073709551615, got 18446744073709551617',
  ]);
  for (const [resource, message] of [
    ['{"attributes":[{"key":"big","value":{"intValue":9223372036854775809}}]}', 'resource attribute "big": intValue must be an integer from -9223372036854775808 to 9223372036854775807, got 9223372036854775809'],
    ['{"droppedAttributesCount":-9007199254740993}', 'resource.droppedAttributesCount must be an integer from 0 to 18446744073709551615, got -9007199254740993'],
  ]) {
    assert.throws(() => decodeRequest('traces', request([span('"name":"ok"')], resource), 'json', 't'), { name: 'OtlpDecodeError', message });
  }
});
