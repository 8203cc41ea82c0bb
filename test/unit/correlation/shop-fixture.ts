// Ten checkout requests through frontend → checkout → payments, 10 s apart. Payments fails three
// of them: requests 3 and 7 throw the same Java exception (different order IDs and line numbers),
// request 5 a timeout. Failures are recorded as span `exception` events and as error logs; the
// payments service also logs without trace context. A second tenant holds a look-alike trace.
import { SpanKind, StatusCode, type LogRecord, type SpanEvent, type SpanRecord } from '../../../src/model/telemetry.ts';
import { attrs, log, MS, resource, SEC, span, spanId, T0, traceId } from '../../helpers/telemetry-builders.ts';

export const TENANT = 'shop';
export const OTHER_TENANT = 'rival';
export const REQUESTS = 10;
export const FAILED_WITH_DECLINE = [3, 7];
export const FAILED_WITH_TIMEOUT = [5];

export const startOf = (i: number) => T0 + BigInt(i) * 10n * SEC;
export const traceOf = (i: number) => traceId(1000 + i);
/** Span IDs: i*10 + 1 frontend root, +2 frontend client, +3 checkout server, +4 checkout client, +5 payments server. */
export const spanOf = (i: number, n: 1 | 2 | 3 | 4 | 5) => spanId(i * 10 + n);
/** payments' duration for request i, in ms: 100, 110, … 190. */
export const paymentsMs = (i: number) => 100 + 10 * i;

export const declineStack = (orderId: number, line: number) => `java.lang.IllegalStateException: card declined for order ${orderId}
\tat com.shop.payments.PaymentService.charge(PaymentService.java:${line})
\tat com.shop.payments.PaymentController.pay(PaymentController.java:42)
\tat java.base/java.lang.Thread.run(Thread.java:833)`;

export const timeoutStack = `java.util.concurrent.TimeoutException: acquirer did not answer in 2000 ms
\tat com.shop.payments.AcquirerClient.authorise(AcquirerClient.java:118)
\tat com.shop.payments.PaymentService.charge(PaymentService.java:80)`;

const services = { frontend: resource('frontend'), checkout: resource('checkout'), payments: resource('payments') };

function exceptionEvent(time: bigint, type: string, message: string, stack: string): SpanEvent {
  return {
    timeUnixNano: time,
    name: 'exception',
    attributes: attrs({ 'exception.type': type, 'exception.message': message, 'exception.stacktrace': stack }),
    droppedAttributesCount: 0,
  };
}

function failure(i: number): { type: string; message: string; stack: string } | null {
  if (FAILED_WITH_DECLINE.includes(i)) {
    return { type: 'java.lang.IllegalStateException', message: `card declined for order ${4000 + i}`, stack: declineStack(4000 + i, 80 + i) };
  }
  if (FAILED_WITH_TIMEOUT.includes(i)) {
    return { type: 'java.util.concurrent.TimeoutException', message: 'acquirer did not answer in 2000 ms', stack: timeoutStack };
  }
  return null;
}

function request(i: number, tenant: string): SpanRecord[] {
  const t = startOf(i);
  const trace = traceOf(i);
  const fail = failure(i);
  const common = { tenant, traceId: trace };
  const pay = paymentsMs(i);
  return [
    span({ ...common, spanId: spanOf(i, 1), name: 'GET /checkout', kind: SpanKind.SERVER, resource: services.frontend, startTimeUnixNano: t, endTimeUnixNano: t + BigInt(pay + 60) * MS }),
    span({ ...common, spanId: spanOf(i, 2), parentSpanId: spanOf(i, 1), name: 'POST checkout', kind: SpanKind.CLIENT, resource: services.frontend, startTimeUnixNano: t + 5n * MS, endTimeUnixNano: t + BigInt(pay + 50) * MS }),
    span({ ...common, spanId: spanOf(i, 3), parentSpanId: spanOf(i, 2), name: 'POST /checkout', kind: SpanKind.SERVER, resource: services.checkout, startTimeUnixNano: t + 10n * MS, endTimeUnixNano: t + BigInt(pay + 40) * MS }),
    span({ ...common, spanId: spanOf(i, 4), parentSpanId: spanOf(i, 3), name: 'POST payments', kind: SpanKind.CLIENT, resource: services.checkout, startTimeUnixNano: t + 15n * MS, endTimeUnixNano: t + BigInt(pay + 20) * MS }),
    span({
      ...common,
      spanId: spanOf(i, 5),
      parentSpanId: spanOf(i, 4),
      name: 'POST /pay',
      kind: SpanKind.SERVER,
      resource: services.payments,
      startTimeUnixNano: t + 20n * MS,
      endTimeUnixNano: t + BigInt(20 + pay) * MS,
      status: fail ? { code: StatusCode.ERROR, message: fail.message } : { code: StatusCode.OK, message: '' },
      events: fail ? [exceptionEvent(t + 60n * MS, fail.type, fail.message, fail.stack)] : [],
    }),
  ];
}

export const spans: SpanRecord[] = Array.from({ length: REQUESTS }, (_, i) => request(i, TENANT)).flat();

export const logs: LogRecord[] = [
  ...Array.from({ length: REQUESTS }, (_, i) => {
    const fail = failure(i);
    const t = startOf(i);
    const out: LogRecord[] = [
      // Logged without trace context, during the request: found by Span.logs(window) through the service.
      log({ tenant: TENANT, resource: services.payments, timeUnixNano: t + 30n * MS, body: { stringValue: `pool stats ${i}` } }),
    ];
    if (fail && FAILED_WITH_DECLINE.includes(i)) {
      out.push(
        log({
          tenant: TENANT,
          resource: services.payments,
          timeUnixNano: t + 61n * MS,
          severityNumber: 17,
          severityText: 'ERROR',
          body: { stringValue: `payment failed: ${fail.message}` },
          traceId: traceOf(i),
          spanId: spanOf(i, 5),
          attributes: attrs({ 'exception.type': fail.type, 'exception.message': fail.message, 'exception.stacktrace': fail.stack }),
        }),
      );
    }
    return out;
  }).flat(),
  // Another request's log in the same service and time as request 0: not "around" request 0's span.
  log({ tenant: TENANT, resource: services.payments, timeUnixNano: startOf(0) + 40n * MS, body: { stringValue: 'other request' }, traceId: traceId(9999), spanId: spanId(9999) }),
];

/** The same shape for another tenant, with a service name the first tenant never uses. */
export const otherTenantSpans: SpanRecord[] = request(3, OTHER_TENANT).map((s) =>
  s.resource === services.payments ? { ...s, resource: resource('rival-payments') } : s,
);
