// A point read back from Prometheus is rebuilt as a live one from its labels. job holds
// service.namespace and service.name, either of which may hold a `/`: found in review, the rebuilt
// point split job at its first `/` while groupBy service.namespace took everything before the last,
// so one series had two namespaces depending on how it was read.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { asLivePoint } from '../../../src/stores/prometheus/live-points.ts';
import { splitJob } from '../../../src/stores/prometheus/names.ts';
import type { MetricPoint } from '../../../src/model/telemetry.ts';

const str = (key: string, value: string) => ({ key, value: { stringValue: value } });

function readPoint(labels: Record<string, string>): MetricPoint {
  return {
    tenant: 'default',
    resource: { attributes: [], droppedAttributesCount: 0, schemaUrl: '' },
    scope: { name: '', version: '', attributes: [], droppedAttributesCount: 0, schemaUrl: '' },
    metric: { name: 'items_done_total', description: '', unit: '', type: 'sum', aggregationTemporality: 2, isMonotonic: true, metadata: [] },
    point: { type: 'number', asDouble: 3, attributes: Object.entries(labels).map(([k, v]) => str(k, v)), startTimeUnixNano: 0n, timeUnixNano: 1n, flags: 0, exemplars: [] },
  };
}

const resourceOf = (labels: Record<string, string>) =>
  Object.fromEntries(asLivePoint(readPoint(labels), 'items.done', undefined).resource.attributes.map((a) => [a.key, 'stringValue' in a.value ? a.value.stringValue : '']));

test('job splits at its last `/` with a name after it, for live points as for groupBy', () => {
  assert.deepEqual(resourceOf({ job: 'a/b/c', instance: 'pod-1' }), { 'service.namespace': 'a/b', 'service.name': 'c', 'service.instance.id': 'pod-1' });
  assert.deepEqual(resourceOf({ job: 'shop/orders' }), { 'service.namespace': 'shop', 'service.name': 'orders' });
  assert.deepEqual(resourceOf({ job: 'orders' }), { 'service.name': 'orders' });
  // Nothing after the last `/`: no namespace was written (the name alone holds it).
  assert.deepEqual(resourceOf({ job: 'a/' }), { 'service.name': 'a/' });
  assert.deepEqual(splitJob('/x'), { namespace: undefined, name: '/x' });
  assert.deepEqual(splitJob('ns/line\nbreak'), { namespace: 'ns', name: 'line\nbreak' });
});
