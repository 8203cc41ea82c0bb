// Reading Prometheus names back the way the exporter wrote them (names.ts), and the label matchers
// the read store builds from OTel keys (found by QA).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { labelMatchers } from '../../../src/stores/prometheus/metric-store.ts';
import { metricName, metricStem, unitOfName } from '../../../src/stores/prometheus/names.ts';
import { StoreError } from '../../../src/stores/types.ts';
import type { MetricDescriptor } from '../../../src/model/telemetry.ts';

const gauge = (name: string, unit: string): MetricDescriptor => ({ name, unit, description: '', type: 'gauge', aggregationTemporality: 0, isMonotonic: false, metadata: [] });

describe('prometheus names read back', () => {
  test('the unit of a family name is the UCUM unit its last words were written from, rate units included', () => {
    for (const unit of ['s', 'ms', 'By', 'MiBy', 'Cel', '%', 'm/s', 'By/s', '1/s', 'By/h']) {
      assert.equal(unitOfName(metricName(gauge('x.y', unit))), unit, unit);
    }
    assert.equal(unitOfName('cpu_utilization_ratio'), '1');
    assert.equal(unitOfName('bytes_sent_total'), '');
    // An annotation is not in the name: only its rate part reads back.
    assert.equal(unitOfName(metricName(gauge('reqs', '{req}/s'))), '1/s');
  });

  test("a name's stem is the start of the name the exporter writes, a leading digit included", () => {
    assert.equal(metricStem('5xx.errors'), '_5xx_errors');
    assert.equal(metricName(gauge('5xx.errors', 's')), `${metricStem('5xx.errors')}_seconds`);
    assert.equal(metricStem('http..server.duration_'), 'http_server_duration');
    assert.equal(metricStem('_5xx_errors'), '_5xx_errors');
  });

  test('label filter values are PromQL strings Prometheus parses: a lone surrogate is U+FFFD, written as an escape', () => {
    assert.deepEqual(labelMatchers({ q: 'a\ud800b', r: '\udc00\ud83d\ude00', s: 'x\ufffd' }), ['q="a\\ufffdb"', 'r="\\ufffd\ud83d\ude00"', 's="x\\ufffd"']);
    assert.deepEqual(labelMatchers({ 'service.name': '\ud800' }), ['job=~"(?s)(?:.+/)?\\ufffd"']);
  });

  test('an empty filter value is refused: Prometheus keeps no empty labels, so "" would match every series without the label', () => {
    for (const key of ['host.name', 'service.name', 'service.namespace', 'service.instance.id']) {
      assert.throws(() => labelMatchers({ [key]: '' }), (err: unknown) => err instanceof StoreError && err.code === 'BAD_QUERY' && err.message.includes(key));
    }
  });
});
