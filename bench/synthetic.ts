// Synthetic but realistic spans for the benchmarks: traces of 10 spans across a few services, each
// span with 10 attributes (routes, status codes, DB statements, user tiers…).
import { randomBytes } from 'node:crypto';
import type { InstrumentationScope, KeyValue, Resource, SpanRecord } from '../src/model/telemetry.ts';

const SERVICES = ['frontend', 'checkout', 'payments', 'inventory', 'llm-gateway'];
const ROUTES = ['/api/cart', '/api/checkout', '/api/pay', '/api/items/{id}', '/v1/chat/completions'];
const TIERS = ['free', 'pro', 'enterprise'];

const resources: Resource[] = SERVICES.map((s, i) => ({
  attributes: [
    { key: 'service.name', value: { stringValue: s } },
    { key: 'service.version', value: { stringValue: `1.${i}.0` } },
    { key: 'telemetry.source', value: { stringValue: i === 4 ? 'claude' : 'app' } },
  ],
  droppedAttributesCount: 0,
  schemaUrl: '',
}));
const scope: InstrumentationScope = { name: 'bench', version: '1.0.0', attributes: [], droppedAttributesCount: 0, schemaUrl: '' };

const str = (key: string, v: string): KeyValue => ({ key, value: { stringValue: v } });
const int = (key: string, v: number): KeyValue => ({ key, value: { intValue: String(v) } });

/** `traceCount` traces of 10 spans, start times spread evenly over [fromMs, toMs). */
export function* syntheticTraces(traceCount: number, fromMs: number, toMs: number, tenant = 'default'): Generator<SpanRecord[]> {
  for (let t = 0; t < traceCount; t++) {
    const traceId = randomBytes(16).toString('hex');
    const startNs = BigInt(Math.floor(fromMs + ((toMs - fromMs) * t) / traceCount)) * 1_000_000n;
    const spans: SpanRecord[] = [];
    let parent = '';
    for (let i = 0; i < 10; i++) {
      const spanId = randomBytes(8).toString('hex');
      const svc = (t + i) % SERVICES.length;
      const error = (t * 7 + i) % 50 === 0;
      const durNs = BigInt(1_000_000 + ((t * 31 + i * 17) % 400) * 1_000_000);
      spans.push({
        tenant,
        resource: resources[svc]!,
        scope,
        traceId,
        spanId,
        parentSpanId: parent,
        traceState: '',
        flags: 1,
        name: `${['GET', 'POST'][i % 2]} ${ROUTES[(t + i) % ROUTES.length]}`,
        kind: i === 0 ? 2 : 3,
        startTimeUnixNano: startNs + BigInt(i) * 1_000_000n,
        endTimeUnixNano: startNs + BigInt(i) * 1_000_000n + durNs,
        attributes: [
          str('http.route', ROUTES[(t + i) % ROUTES.length]!),
          int('http.response.status_code', error ? 500 : 200),
          str('user.tier', TIERS[t % TIERS.length]!),
          str('user.id', `user-${t % 5000}`),
          str('db.system', 'postgresql'),
          str('db.statement', `SELECT * FROM orders WHERE id = ${t}`),
          int('db.rows', t % 97),
          str('net.peer.name', `${SERVICES[(svc + 1) % SERVICES.length]}.internal`),
          { key: 'retry', value: { boolValue: i % 3 === 0 } },
          { key: 'cost.usd', value: { doubleValue: (t % 100) / 1000 } },
        ],
        droppedAttributesCount: 0,
        events: [],
        droppedEventsCount: 0,
        links: [],
        droppedLinksCount: 0,
        status: { code: error ? 2 : 0, message: error ? 'upstream timeout' : '' },
      });
      parent = spanId;
    }
    yield spans;
  }
}
