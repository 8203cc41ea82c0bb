// An alert's exception groups are those of the spans the alert is about: the services its filter
// requires, at the top or inside `and` (where the engine puts the rule's services and the alert's
// own service). QA round 37: they listed every service's exceptions in the window.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { exceptionEvidence } from '../../../src/alerting/exception-evidence.ts';
import { silentLogger } from '../../../src/logger.ts';
import { openDuckDbStore } from '../../../src/stores/duckdb/index.ts';
import { attrs, resource, span, spanId, traceId } from '../../helpers/telemetry-builders.ts';

const SEC = 1_000_000_000n;
const T0 = 1_764_000_000n * SEC;

test('exception evidence is narrowed to the services the filter requires, in and terms too', async () => {
  const duck = await openDuckDbStore({ path: ':memory:', logger: silentLogger(), threads: 1 });
  try {
    const failed = (i: number, service: string, type: string) =>
      span({
        tenant: 't',
        resource: resource(service),
        traceId: traceId(100 + i),
        spanId: spanId(i),
        startTimeUnixNano: T0 + BigInt(i) * SEC,
        endTimeUnixNano: T0 + BigInt(i) * SEC + 1000n,
        status: { code: 2, message: '' },
        events: [{ timeUnixNano: T0 + BigInt(i) * SEC, name: 'exception', attributes: attrs({ 'exception.type': type, 'exception.message': 'boom' }), droppedAttributesCount: 0 }],
      });
    await duck.writer.writeSpans([
      ...[1, 2].map((i) => failed(i, 'checkout', 'CheckoutError')),
      ...[3, 4, 5, 6, 7].map((i) => failed(i, 'payments', 'PaymentsError')),
    ]);
    const evidence = exceptionEvidence(duck.correlation.exceptions);
    const range = { from: T0, to: T0 + 60n * SEC };
    const groups = async (filter: object) =>
      (await evidence.topExceptionGroups('t', { range, filter, limit: 5 })).map((g) => [g.type, g.count, g.sampleTraceId]);
    assert.deepEqual((await groups({})).map(([t, c]) => [t, c]), [['PaymentsError', 5], ['CheckoutError', 2]], 'no filter: every service');
    // The rule's services (and: [{ service }]) and the alert's own service (another and term).
    assert.deepEqual((await groups({ and: [{ service: ['checkout'] }] })).map(([t, c]) => [t, c]), [['CheckoutError', 2]]);
    assert.deepEqual((await groups({ and: [{ service: ['checkout', 'payments'] }, { service: ['payments'] }] })).map(([t, c]) => [t, c]), [['PaymentsError', 5]]);
    const sample = (await groups({ and: [{ service: ['checkout'] }] }))[0]![2] as string;
    assert.ok([traceId(101), traceId(102)].includes(sample), `the sample trace is checkout's (${sample})`);
    // Lists that share no service: nothing, not everything.
    assert.deepEqual(await groups({ service: ['checkout'], and: [{ service: ['payments'] }] }), []);
    // An or narrows nothing for certain: all services' groups.
    assert.deepEqual((await groups({ or: [{ service: ['checkout'] }] })).map(([t]) => t), ['PaymentsError', 'CheckoutError']);
  } finally {
    await duck.close();
  }
});
