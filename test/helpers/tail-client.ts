// Live-tail test helpers: graphql-ws clients that collect events and errors, hand-built OTLP/JSON
// with the IDs and times a test chooses, and a wait for the gateway's subscription count.
import assert from 'node:assert/strict';
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import type { TestGateway } from './gateway.ts';
import { waitFor } from './wait-for.ts';

export interface GqlError {
  message: string;
  extensions?: { code?: string; limit?: string; value?: number };
}

export interface Tail<T> {
  events: T[];
  errors: GqlError[];
  done: Promise<void>;
  stop(): void;
}

export function wsClient(gw: Pick<TestGateway, 'wsUrl'>, tenant: string): Client {
  // onNonLazyError: graphql-ws prints a connection closed with no subscription open (a gateway
  // stopped at the end of a test) to the console by default; subscriptions get their errors anyway.
  return createClient({ url: gw.wsUrl, webSocketImpl: WebSocket, connectionParams: { 'X-Scope-OrgID': tenant }, retryAttempts: 0, lazy: false, onNonLazyError: () => {} });
}

/** Subscribes and collects every event (the `data` payload) and every error, however graphql-ws reports it. */
export function tail<T>(client: Client, query: string, variables: Record<string, unknown> = {}): Tail<T> {
  const events: T[] = [];
  const errors: GqlError[] = [];
  let stop = () => {};
  const done = new Promise<void>((resolve) => {
    stop = client.subscribe<T>(
      { query, variables },
      {
        next: (r) => {
          if (r.errors) errors.push(...(r.errors as GqlError[]));
          if (r.data) events.push(r.data as T);
        },
        error: (err) => {
          if (Array.isArray(err)) errors.push(...(err as GqlError[]));
          else errors.push({ message: String((err as { reason?: string }).reason ?? err) });
          resolve();
        },
        complete: resolve,
      },
    );
  });
  return { events, errors, done, stop: () => stop() };
}

/** Waits until the gateway holds `n` tail subscriptions. */
export function subscriptions(gw: TestGateway, n: number, timeoutMs?: number): Promise<number> {
  return waitFor(async () => gw.app.internals.tail().size(), (s) => s === n, `${n} open tail subscriptions`, timeoutMs);
}

export async function postOtlp(gw: Pick<TestGateway, 'otlpHttp'>, path: '/v1/traces' | '/v1/logs' | '/v1/metrics', body: unknown, tenant: string): Promise<number> {
  const res = await fetch(`${gw.otlpHttp}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'X-Scope-OrgID': tenant },
    body: JSON.stringify(body),
  });
  await res.arrayBuffer();
  return res.status;
}

const str = (key: string, v: string) => ({ key, value: { stringValue: v } });

export interface SpanSpec {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  startNs: bigint;
  durationNs?: bigint;
  status?: 0 | 1 | 2;
  attributes?: Record<string, string>;
}

export function spansBody(service: string, spans: SpanSpec[], resource: Record<string, string> = {}): unknown {
  return {
    resourceSpans: [
      {
        resource: { attributes: [str('service.name', service), ...Object.entries(resource).map(([k, v]) => str(k, v))] },
        scopeSpans: [
          {
            scope: { name: 'tail-test', version: '1.0.0' },
            spans: spans.map((s) => ({
              traceId: s.traceId,
              spanId: s.spanId,
              ...(s.parentSpanId && { parentSpanId: s.parentSpanId }),
              name: s.name,
              kind: 2,
              startTimeUnixNano: String(s.startNs),
              endTimeUnixNano: String(s.startNs + (s.durationNs ?? 1_000_000n)),
              attributes: Object.entries(s.attributes ?? {}).map(([k, v]) => str(k, v)),
              ...(s.status !== undefined && { status: { code: s.status } }),
            })),
          },
        ],
      },
    ],
  };
}

export interface LogSpec {
  timeNs: bigint;
  body: string;
  severityNumber?: number;
  attributes?: Record<string, string>;
}

export function logsBody(service: string, logs: LogSpec[]): unknown {
  return {
    resourceLogs: [
      {
        resource: { attributes: [str('service.name', service)] },
        scopeLogs: [
          {
            scope: { name: 'tail-test', version: '1.0.0' },
            logRecords: logs.map((l) => ({
              timeUnixNano: String(l.timeNs),
              observedTimeUnixNano: String(l.timeNs),
              severityNumber: l.severityNumber ?? 9,
              body: { stringValue: l.body },
              attributes: Object.entries(l.attributes ?? {}).map(([k, v]) => str(k, v)),
            })),
          },
        ],
      },
    ],
  };
}

export interface GaugeSpec {
  timeNs: bigint;
  value: number;
  attributes?: Record<string, string>;
}

export function gaugeBody(service: string, name: string, points: GaugeSpec[]): unknown {
  return {
    resourceMetrics: [
      {
        resource: { attributes: [str('service.name', service)] },
        scopeMetrics: [
          {
            scope: { name: 'tail-test', version: '1.0.0' },
            metrics: [
              {
                name,
                unit: '1',
                gauge: {
                  dataPoints: points.map((p) => ({
                    timeUnixNano: String(p.timeNs),
                    asDouble: p.value,
                    attributes: Object.entries(p.attributes ?? {}).map(([k, v]) => str(k, v)),
                  })),
                },
              },
            ],
          },
        ],
      },
    ],
  };
}

export const hex = (n: number, width: number) => n.toString(16).padStart(width, '0');
export const nowNs = () => BigInt(Date.now()) * 1_000_000n;

/**
 * Checks a tail's events from a burst of `total` records named `op-0` … `op-{total-1}`: in publish
 * order, ending with the newest, each event's `dropped` counting exactly the records skipped
 * before it. Returns how many were dropped.
 */
export function assertBurstAccounted(events: { name: string; dropped: number }[], total: number): number {
  let next = 0;
  for (const e of events) {
    next += e.dropped;
    assert.equal(e.name, `op-${next}`, 'dropped counts the records skipped before this one, in order');
    next++;
  }
  assert.equal(next, total, 'delivered + dropped accounts for every record, the newest last');
  return total - events.length;
}
