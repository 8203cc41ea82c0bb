import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { defaultPrometheusExporterConfig, prometheusExporterFactory } from '../../../ingest/exporters/prometheus/factory.ts';
import { SignalNotSupportedError } from '../../../ingest/component.ts';
import { mergeConfig } from '../../../src/config/merge.ts';
import { silentLogger } from '../../../src/logger.ts';

describe('prometheus exporter factory', () => {
  test('metrics only: traces and logs are refused', () => {
    const cfg = { ...defaultPrometheusExporterConfig(), endpoint: 'http://127.0.0.1:9/api/v1/write' };
    assert.deepEqual(prometheusExporterFactory.signals, ['metrics']);
    assert.throws(() => prometheusExporterFactory.create({ id: 'prometheus/traces', logger: silentLogger() }, cfg, 'traces'), SignalNotSupportedError);
  });

  test('the config takes the shared queue settings and the remote-write keys; typos are refused', () => {
    const merged = mergeConfig(defaultPrometheusExporterConfig(), { endpoint: 'http://p/api/v1/write', bearer: 't', spill: { enabled: false }, exponentialHistograms: 'buckets' }, 'exporters.prometheus');
    assert.equal(merged.spill.enabled, false);
    assert.equal(merged.batch.maxItems, defaultPrometheusExporterConfig().batch.maxItems);
    assert.equal(merged.exponentialHistograms, 'buckets');
    assert.throws(() => mergeConfig(defaultPrometheusExporterConfig(), { endpiont: 'x' }, 'exporters.prometheus'), /unknown key "endpiont"/);
  });

  test('without an endpoint, or with a bad mode, the exporter is not created', () => {
    const create = (over: object) => prometheusExporterFactory.create({ id: 'prometheus/metrics', logger: silentLogger() }, { ...defaultPrometheusExporterConfig(), ...over }, 'metrics');
    assert.throws(() => create({}), /needs an endpoint/);
    assert.throws(() => create({ endpoint: 'http://p/api/v1/write', exponentialHistograms: 'sparse' }), /exponentialHistograms: expected native or buckets/);
  });
});
