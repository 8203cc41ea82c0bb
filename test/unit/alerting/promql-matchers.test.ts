// The embedded PromQL subset reads matchers and keywords as Prometheus does, over a real DuckDB
// store: `l=""` is "without l", matchers on one label must all hold, quoted values take PromQL's
// escapes, and keywords (sum, by, offset…) are read in any case while function names are not.
// Found by QA (round 33, D4 and D7).
import { after, before, describe, it, test } from 'node:test';
import assert from 'node:assert/strict';
import { createEmbeddedPromQl, parsePromQlSubset, PromQlError } from '../../../src/alerting/promql.ts';
import { silentLogger } from '../../../src/logger.ts';
import type { MetricPoint, MetricPointValue } from '../../../src/model/telemetry.ts';
import { openDuckDbStore, type DuckDbStore } from '../../../src/stores/duckdb/index.ts';
import { attrs, metricPoint, resource, SEC, T0 } from '../../helpers/telemetry-builders.ts';

const refused = (expr: string, why: RegExp) =>
  assert.throws(() => parsePromQlSubset(expr), (err: unknown) => err instanceof PromQlError && why.test(err.message), expr);

describe('embedded label matchers select the series Prometheus selects', () => {
  let store: DuckDbStore;
  const at = T0 + 60n * SEC;
  before(async () => {
    store = await openDuckDbStore({ path: ':memory:', logger: silentLogger(), threads: 1 });
    const gauge = (value: number, labels: Record<string, string>): MetricPoint =>
      metricPoint(
        { type: 'number', attributes: attrs(labels), startTimeUnixNano: T0, timeUnixNano: T0, flags: 0, asDouble: value, exemplars: [] } satisfies MetricPointValue,
        { name: 'qa.temp', type: 'gauge', aggregationTemporality: 0 },
        { tenant: 't', resource: resource('api') },
      );
    // floor="" is an attribute set to the empty string, which Prometheus (no empty labels) never has.
    await store.writer.writeMetrics([gauge(1, { room: 'a' }), gauge(10, { room: 'b', floor: '' }), gauge(7, {}), gauge(3, { room: 'a\nb' }), gauge(4, { room: 'é"' })]);
    // A histogram per room (bounds 10, 100): room a observes under 10, the series without room over 10.
    const hist = (name: string, sec: bigint, counts: number[], labels: Record<string, string>): MetricPoint =>
      metricPoint(
        {
          type: 'histogram', attributes: attrs(labels), startTimeUnixNano: T0 - 3_600n * SEC, timeUnixNano: T0 + sec * SEC, flags: 0,
          count: counts.reduce((a, b) => a + b, 0), sum: 0, bucketCounts: counts, explicitBounds: [10, 100], exemplars: [],
        },
        { name, type: 'histogram', aggregationTemporality: 2 },
        { tenant: 't', resource: resource('api') },
      );
    await store.writer.writeMetrics([hist('qa.lat', 0n, [0, 0, 0], { room: 'a' }), hist('qa.lat', 30n, [4, 0, 0], { room: 'a' }), hist('qa.lat', 0n, [0, 0, 0], {}), hist('qa.lat', 30n, [0, 4, 0], {})]);
    // qa.lat2: one series without zone, one with zone="" (one series, one group, on Prometheus).
    await store.writer.writeMetrics([hist('qa.lat2', 0n, [0, 0, 0], {}), hist('qa.lat2', 30n, [4, 0, 0], {}), hist('qa.lat2', 0n, [0, 0, 0], { zone: '' }), hist('qa.lat2', 30n, [0, 4, 0], { zone: '' })]);
  });
  after(() => store?.close());
  const values = async (expr: string) => (await createEmbeddedPromQl(store.metrics).query('t', expr, at)).map((s) => s.value).sort((a, b) => a - b);

  it('l="" selects the series without l, or with it empty', async () => {
    assert.deepEqual(await values('qa_temp{room=""}'), [7]);
    assert.deepEqual(await values('qa_temp{floor=""}'), [1, 3, 4, 7, 10]);
    assert.deepEqual(await values('qa_temp{room="b", floor=""}'), [10]);
    assert.deepEqual(await values('sum(qa_temp{room=""})'), [7]);
    // Inside histogram_quantile, with and without sum by (le): the series without room alone.
    assert.deepEqual(await values('histogram_quantile(0.5, rate(qa_lat{room=""}[1m]))'), [55]);
    assert.deepEqual(await values('histogram_quantile(0.5, sum by (le) (rate(qa_lat{room=""}[1m])))'), [55]);
    assert.deepEqual(await values('histogram_quantile(0.5, sum by (le) (rate(qa_lat[1m])))'), [10]);
  });

  it('a sum by (le, …) whose group the store would split (a label lacking here, empty there) is refused, not answered twice', async () => {
    for (const expr of ['histogram_quantile(0.5, sum by (le) (rate(qa_lat2{zone=""}[1m])))', 'histogram_quantile(0.5, sum by (le, zone) (rate(qa_lat2[1m])))']) {
      await assert.rejects(createEmbeddedPromQl(store.metrics).query('t', expr, at), (err: unknown) => err instanceof PromQlError && /the series of group \{\} differ only in a label some lack and others have empty/.test(err.message), expr);
    }
    // Without sum, each series is its own: both are answered.
    assert.deepEqual(await values('histogram_quantile(0.5, rate(qa_lat2{zone=""}[1m]))'), [5, 55]);
  });

  it('matchers on one label must all hold: two values select nothing', async () => {
    assert.deepEqual(await values('qa_temp{room="a", room="b"}'), []);
    assert.deepEqual(await values('qa_temp{room="a", room=""}'), []);
    assert.deepEqual(await values('count(qa_temp{room="b", room="b"})'), [1]);
    // room_x is no label: its stored key is itself, apart from room.
    assert.deepEqual(await values('qa_temp{room="a", room_x=""}'), [1]);
  });

  it('quoted values take PromQL escapes', async () => {
    assert.deepEqual(await values('qa_temp{room="a\\nb"}'), [3]);
    assert.deepEqual(await values("qa_temp{room='a\\x0ab'}"), [3]);
    assert.deepEqual(await values('qa_temp{room="\\u00e9\\""}'), [4]);
    assert.deepEqual(await values('qa_temp{room="\\303\\251\\""}'), [4]);
    // Raw strings have none.
    assert.deepEqual(await values('qa_temp{room=`a\\nb`}'), []);
  });

  it('keywords in any case: SUM, By', async () => {
    assert.deepEqual(await values('SUM(qa_temp)'), [25]);
    assert.deepEqual(await values('Sum By (room) (qa_temp)'), [1, 3, 4, 7, 10]);
    assert.deepEqual(await values('histogram_quantile(0.5, SUM BY (le) (rate(qa_lat{room=""}[1m])))'), [55]);
  });
});

test('what PromQL refuses in a matcher or a name is refused, saying why', () => {
  refused('qa_temp{room="\\q"}', /unknown escape sequence \\q/);
  refused('qa_temp{room="it\\\'s"}', /unknown escape sequence \\'/);
  refused('qa_temp{room="\\x4"}', /bad escape sequence \\x4/);
  refused('qa_temp{room="\\ud800"}', /invalid Unicode code point/);
  refused('qa_temp{room="a\nb"}', /unterminated quoted string/);
  refused('qa_temp{__name__="qa_temp"}', /__name__ matcher is not supported; write the metric name before the braces/);
  // Function names are case-sensitive in Prometheus ("unknown function with name"), keywords not.
  refused('RATE(x[5m])', /function names are case-sensitive: PromQL has no function RATE\(\), write rate\(\)/);
  refused('sum(Increase(x[5m]))', /no function Increase\(\), write increase\(\)/);
  refused('TOPK(3, x)', /the aggregation TOPK is not supported/);
  refused('x OFFSET 5m', /the offset modifier is not supported/);
  refused('SUM(x) BY (a)', /by \(…\) after the aggregated expression is not supported/);
  refused('sum WITHOUT (a) (x)', /without \(…\) is not supported/);
  refused('x AND y', /the operator "AND" is not supported/);
  refused('x atan2 y', /the operator "atan2" is not supported/);
  assert.deepEqual(parsePromQlSubset('MAX by (route) (x)').aggregation, { op: 'max', by: ['route'] });
});
