// npm run sample — sends sample telemetry to a running gateway over OTLP/HTTP: 200 traces of 10
// spans across five services (some failing), a log line for every failing span, and request
// counters and latency histograms per service. The README's example queries run against this data.
// Usage: npm run sample [-- http://127.0.0.1:4318]; without the URL, OTEL_EXPORTER_OTLP_ENDPOINT, and the
// headers in OTEL_EXPORTER_OTLP_HEADERS (an API key when auth is on), as the OTel SDKs read them.
import { fileURLToPath } from 'node:url';
import { syntheticTraces } from '../bench/synthetic.ts';
import { encodeTraceRequests } from '../bench/otlp-requests.ts';

export async function sendSample(otlpHttp: string, headers: Record<string, string> = {}): Promise<{ traces: number; spans: number; logs: number; metricsPerService: number }> {
  const now = Date.now();
  const traces = [...syntheticTraces(200, now - 30 * 60_000, now)];
  const groups = Array.from({ length: traces.length / 20 }, (_, i) => traces.slice(i * 20, i * 20 + 20).flat());
  for (const request of encodeTraceRequests(groups)) {
    await post(`${otlpHttp}/v1/traces`, request, 'application/x-protobuf', headers);
  }
  const failing = traces.flat().filter((s) => s.status.code === 2);
  const byService = new Map<string, typeof failing>();
  for (const s of failing) {
    const svc = s.resource.attributes.find((a) => a.key === 'service.name')!.value as { stringValue: string };
    byService.set(svc.stringValue, [...(byService.get(svc.stringValue) ?? []), s]);
  }
  const logs = {
    resourceLogs: [...byService].map(([service, spans]) => ({
      resource: { attributes: [{ key: 'service.name', value: { stringValue: service } }] },
      scopeLogs: [
        {
          scope: { name: 'sample' },
          logRecords: spans.map((s) => ({
            timeUnixNano: s.endTimeUnixNano.toString(),
            severityNumber: 17,
            severityText: 'ERROR',
            body: { stringValue: `${s.name} failed: upstream timeout after ${Number((s.endTimeUnixNano - s.startTimeUnixNano) / 1_000_000n)} ms` },
            attributes: [{ key: 'http.route', value: { stringValue: (s.attributes[0]!.value as { stringValue: string }).stringValue } }],
            traceId: s.traceId,
            spanId: s.spanId,
          })),
        },
      ],
    })),
  };
  await post(`${otlpHttp}/v1/logs`, JSON.stringify(logs), 'application/json', headers);

  const services = ['frontend', 'checkout', 'payments', 'inventory', 'llm-gateway'];
  const start = BigInt(now - 30 * 60_000) * 1_000_000n;
  const metrics = {
    resourceMetrics: services.map((service, i) => ({
      resource: { attributes: [{ key: 'service.name', value: { stringValue: service } }] },
      scopeMetrics: [
        {
          scope: { name: 'sample' },
          metrics: [
            {
              name: 'http.server.requests',
              unit: '{request}',
              sum: {
                aggregationTemporality: 2,
                isMonotonic: true,
                dataPoints: Array.from({ length: 30 }, (_, m) => ({
                  startTimeUnixNano: start.toString(),
                  timeUnixNano: (start + BigInt(m + 1) * 60_000_000_000n).toString(),
                  asInt: String((m + 1) * (100 + i * 20)),
                  attributes: [{ key: 'http.route', value: { stringValue: '/api/checkout' } }],
                })),
              },
            },
            {
              name: 'http.server.duration',
              unit: 'ms',
              histogram: {
                aggregationTemporality: 1,
                dataPoints: Array.from({ length: 30 }, (_, m) => ({
                  startTimeUnixNano: (start + BigInt(m) * 60_000_000_000n).toString(),
                  timeUnixNano: (start + BigInt(m + 1) * 60_000_000_000n).toString(),
                  count: '100',
                  sum: 100 * (20 + i * 10 + (m % 5)),
                  explicitBounds: [10, 50, 100, 500],
                  bucketCounts: ['10', '60', '25', '4', '1'],
                })),
              },
            },
            {
              // The semantic-conventions name and unit, with the status code: what the provisioned
              // Grafana dashboard (deploy/grafana) plots as latency and 5xx rate.
              name: 'http.server.request.duration',
              unit: 's',
              histogram: {
                aggregationTemporality: 1,
                dataPoints: Array.from({ length: 30 }, (_, m) =>
                  [
                    { status: 200, count: 95, meanS: 0.02 + i * 0.01 + (m % 5) * 0.002 },
                    { status: 500, count: 5 + (m % 3), meanS: 0.3 },
                  ].map(({ status, count, meanS }) => ({
                    startTimeUnixNano: (start + BigInt(m) * 60_000_000_000n).toString(),
                    timeUnixNano: (start + BigInt(m + 1) * 60_000_000_000n).toString(),
                    count: String(count),
                    sum: count * meanS,
                    explicitBounds: [0.01, 0.05, 0.1, 0.5],
                    bucketCounts: status === 200 ? ['10', '60', '20', '4', '1'] : ['0', '0', '0', String(count), '0'],
                    attributes: [{ key: 'http.response.status_code', value: { intValue: String(status) } }],
                  })),
                ).flat(),
              },
            },
          ],
        },
      ],
    })),
  };
  await post(`${otlpHttp}/v1/metrics`, JSON.stringify(metrics), 'application/json', headers);
  return { traces: traces.length, spans: traces.length * 10, logs: failing.length, metricsPerService: metrics.resourceMetrics[0]!.scopeMetrics[0]!.metrics.length };
}

async function post(url: string, body: Buffer | string, contentType: string, headers: Record<string, string>): Promise<void> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': contentType, ...headers }, body: typeof body === 'string' ? body : new Uint8Array(body) });
  if (!res.ok) throw new Error(`${url}: ${res.status} ${await res.text()}`);
}

/** OTEL_EXPORTER_OTLP_HEADERS as the OTel SDKs read it: `key=value` pairs, comma-separated, values URL-encoded. */
function otlpHeaders(text: string | undefined): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const pair of (text ?? '').split(',')) {
    const at = pair.indexOf('=');
    if (at > 0) headers[pair.slice(0, at).trim()] = decodeURIComponent(pair.slice(at + 1).trim());
  }
  return headers;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  // Where and how the OTel SDKs would send: an argument, else OTEL_EXPORTER_OTLP_ENDPOINT (and its
  // headers: an API key with auth on), else the default OTLP/HTTP port.
  const target = (process.argv[2] ?? process.env.OTEL_EXPORTER_OTLP_ENDPOINT ?? 'http://127.0.0.1:4318').replace(/\/+$/, '');
  // It speaks OTLP/HTTP only: an environment set up for gRPC (the gateway's 4317) would be blamed on the gateway.
  const protocol = process.argv[2] === undefined ? process.env.OTEL_EXPORTER_OTLP_PROTOCOL : undefined;
  if (protocol === 'grpc') {
    console.error(`npm run sample: OTEL_EXPORTER_OTLP_PROTOCOL is grpc, but this script sends OTLP/HTTP (JSON): pass the gateway's OTLP/HTTP URL (npm run sample -- http://host:4318)`);
    process.exit(1);
  }
  try {
    const sent = await sendSample(target, otlpHeaders(process.env.OTEL_EXPORTER_OTLP_HEADERS));
    console.log(`sent ${sent.traces} traces (${sent.spans} spans), ${sent.logs} logs and ${sent.metricsPerService} metrics per service to ${target}`);
  } catch (err) {
    const cause = (err as { cause?: { code?: string } }).cause?.code;
    console.error(`npm run sample: ${cause ? `cannot reach ${target} (${cause}): is the gateway running? Pass its OTLP/HTTP URL (npm run sample -- http://host:4318) or set OTEL_EXPORTER_OTLP_ENDPOINT` : (err as Error).message}`);
    process.exitCode = 1;
  }
}
