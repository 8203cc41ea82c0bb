// The README's example queries, run as written against the sample data (`npm run sample`), so the
// README cannot drift from what the gateway answers.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { startGateway, type TestGateway } from '../helpers/gateway.ts';
import { gqlData } from '../helpers/graphql-client.ts';
import { waitFor } from '../helpers/wait-for.ts';
import { sendSample } from '../../scripts/send-sample.ts';

const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
const examples = [...readme.matchAll(/```graphql\n([\s\S]*?)```/g)].map((m) => m[1]!);

/** Every list in the answer, at any depth, by its path. */
function lists(value: unknown, path = ''): [string, unknown[]][] {
  if (Array.isArray(value)) return [[path, value], ...value.flatMap((v, i) => lists(v, `${path}[${i}]`))];
  if (value && typeof value === 'object') return Object.entries(value).flatMap(([k, v]) => lists(v, path ? `${path}.${k}` : k));
  return [];
}

let gw: TestGateway;
before(async () => {
  gw = await startGateway();
  const sent = await sendSample(gw.otlpHttp);
  await waitFor(
    () => gqlData<{ spans: { edges: unknown[] }; logs: { edges: unknown[] } }>(gw.graphqlUrl, '{ spans(first: 1000, filter: { from: "now-1h" }) { edges { cursor } } logs(first: 1000) { edges { cursor } } }'),
    (d) => d.spans.edges.length === 1000 && d.logs.edges.length === sent.logs,
    'the sample data',
  );
});
after(() => gw?.stop());

test('the README has five example queries', () => {
  assert.equal(examples.length, 5);
});

for (const [i, query] of examples.entries()) {
  test(`README example ${i + 1} answers without errors and with data`, async () => {
    const data = await gqlData(gw.graphqlUrl, query);
    const top = lists(data).filter(([path]) => !path.includes('.'));
    for (const [path, items] of top) assert.ok(items.length > 0, `${path} is not empty`);
    const nested = lists(data).filter(([path]) => path.endsWith('logs') || path.endsWith('points') || path.endsWith('spans'));
    if (nested.length) assert.ok(nested.some(([, items]) => items.length > 0), 'the nested lists carry data');
  });
}

test('the trace walk in example 2 reaches logs through the spans', async () => {
  const data = await gqlData<{ traces: { trace: { spans: { status: { code: string }; logs: { severityText: string }[] }[] } }[] }>(gw.graphqlUrl, examples[1]!);
  const spans = data.traces[0]!.trace.spans;
  const failing = spans.filter((s) => s.status.code === 'ERROR');
  assert.ok(failing.length > 0);
  for (const s of failing) assert.deepEqual(s.logs.map((l) => l.severityText), ['ERROR'], 'each failing span has its error log');
});

test('the request rate in example 5 is the per-second rate of the counter, the p95 from the histogram', async () => {
  type Series = { labels: Record<string, string>; points: { value: number; count?: number }[] }[];
  const data = await gqlData<{ metricSeries: Series; p95: Series }>(gw.graphqlUrl, examples[4]!);
  const frontend = data.metricSeries.find((s) => s.labels['service.name'] === 'frontend')!;
  // The sample's frontend counter grows by 100 per minute from 30 minutes before it was sent, a
  // moment before the range's start: what its first point counted has no known base in the range
  // (its start time is before `from`), so the first step sees four increases, every other five.
  assert.ok(frontend.points.length >= 5);
  const [first, ...rest] = frontend.points;
  assert.ok(Math.abs(first!.value - 400 / 300) < 1e-9, `first step's rate ${first!.value} is 400 in 5 min`);
  for (const p of rest) assert.ok(Math.abs(p.value - 100 / 60) < 1e-9, `rate ${p.value} is 100/min`);
  // Each minute's delta histogram holds 10, 60, 25, 4 and 1 observations up to 10, 50, 100, 500
  // and beyond: rank 475 of a step's 500 is the top of the (50, 100] bucket.
  const latency = data.p95.find((s) => s.labels['service.name'] === 'frontend')!;
  assert.ok(latency.points.length >= 5);
  for (const p of latency.points) assert.deepEqual([p.value, p.count], [100, 500]);
});
