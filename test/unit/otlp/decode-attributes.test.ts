// A bad value inside an attribute is reported with the attribute's key and what it belongs to
// (resource, scope, span, event, link, log, point, exemplar), not only as `intValue`.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { decodeRequest, OtlpDecodeError } from '../../../src/otlp/codec.ts';

const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const SPAN_ID = '00f067aa0ba902b7';
const INT64_RANGE = 'intValue must be an integer from -9223372036854775808 to 9223372036854775807, got 99999999999999999999';

const attr = (key: string, value: unknown) => [{ key, value }];
const badInt = (key: string) => attr(key, { intValue: '99999999999999999999' });
const json = (request: unknown) => Buffer.from(JSON.stringify(request));

function spanReasons(spans: Record<string, unknown>[], around: { resource?: unknown; scope?: unknown } = {}): string[] {
  const request = {
    resourceSpans: [{ resource: around.resource, scopeSpans: [{ scope: around.scope, spans: spans.map((s) => ({ traceId: TRACE_ID, spanId: SPAN_ID, name: 'op', ...s })) }] }],
  };
  return decodeRequest('traces', json(request), 'json', 'default').rejected.map((r) => r.reason);
}

describe('OTLP attribute errors name the attribute and where it is', () => {
  test('span, event and link attributes: the key, and an out-of-range or malformed intValue', () => {
    assert.deepEqual(
      spanReasons([
        { attributes: [{ key: 'ok', value: { intValue: '1' } }, ...badInt('http.status_code')] },
        { attributes: attr('http.status_code', { intValue: '5xx' }) },
        { events: [{ name: 'e', attributes: badInt('retry.count') }] },
        { links: [{ traceId: TRACE_ID, spanId: SPAN_ID, attributes: badInt('link.weight') }] },
        { attributes: attr('config', { kvlistValue: { values: badInt('timeout') } }) },
        { attributes: [{ key: 42, value: { stringValue: 'x' } }] },
      ]),
      [
        `span attribute "http.status_code": ${INT64_RANGE}`,
        'span attribute "http.status_code": intValue must be an integer, got "5xx"',
        `event attribute "retry.count": ${INT64_RANGE}`,
        `link attribute "link.weight": ${INT64_RANGE}`,
        `span attribute "config": kvlistValue "timeout": ${INT64_RANGE}`,
        'span attribute: key must be a string',
      ],
    );
  });

  test('a resource or scope attribute refuses the request, naming the attribute', () => {
    for (const [around, reason] of [
      [{ resource: { attributes: badInt('host.pid') } }, `resource attribute "host.pid": ${INT64_RANGE}`],
      [{ scope: { name: 's', attributes: badInt('scope.level') } }, `scope attribute "scope.level": ${INT64_RANGE}`],
    ] as const) {
      assert.throws(() => spanReasons([{}], around), (err: unknown) => err instanceof OtlpDecodeError && err.message === reason);
    }
  });

  test('log attributes and bodies', () => {
    const request = {
      resourceLogs: [{ scopeLogs: [{ logRecords: [{ attributes: badInt('http.status_code') }, { body: { intValue: 'NaN' } }] }] }],
    };
    assert.deepEqual(
      decodeRequest('logs', json(request), 'json', 'default').rejected.map((r) => r.reason),
      [`log attribute "http.status_code": ${INT64_RANGE}`, 'log body: intValue must be an integer, got "NaN"'],
    );
  });

  test('data point, exemplar and metric metadata attributes', () => {
    const point = (extra: Record<string, unknown>) => ({ timeUnixNano: '1', asInt: '1', ...extra });
    const request = {
      resourceMetrics: [
        {
          scopeMetrics: [
            {
              metrics: [
                {
                  name: 'm',
                  gauge: { dataPoints: [point({ attributes: badInt('http.status_code') }), point({ exemplars: [{ timeUnixNano: '1', asInt: '1', filteredAttributes: badInt('user.id') }] })] },
                },
                { name: 'n', metadata: badInt('unit.scale'), gauge: { dataPoints: [point({})] } },
              ],
            },
          ],
        },
      ],
    };
    assert.deepEqual(
      decodeRequest('metrics', json(request), 'json', 'default').rejected.map((r) => r.reason),
      [`point attribute "http.status_code": ${INT64_RANGE}`, `exemplar attribute "user.id": ${INT64_RANGE}`, `metric metadata attribute "unit.scale": ${INT64_RANGE}`],
    );
  });
});
