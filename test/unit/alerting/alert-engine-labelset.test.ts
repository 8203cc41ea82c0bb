// Two series of one evaluation that make the same alert label set (once __name__ is dropped and the
// rule's labels applied) fail the evaluation as Prometheus fails it (rules/alerting.go), instead of
// one silently overwriting the other.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createAlertEngine } from '../../../src/alerting/engine.ts';
import type { AlertStore, PromQlSample } from '../../../src/alerting/types.ts';
import { silentLogger } from '../../../src/logger.ts';

const SEC = 1_000_000_000n;
const MIN = 60n * SEC;
const T0 = 1_764_000_000n * SEC;
const SAME_LABELSET = 'vector contains metrics with the same labelset after applying alert labels';

function harness(samples: () => PromQlSample[]) {
  const clock = { t: T0, now: () => clock.t };
  const nothing = async () => undefined;
  const store: AlertStore = {
    loadRules: async () => [],
    saveRule: nothing,
    deleteRule: nothing,
    loadInstances: async () => [],
    saveInstance: nothing,
    deleteInstance: nothing,
    appendHistory: nothing,
    deleteHistoryBefore: async () => 0,
    history: async () => [],
    alerts: async () => [],
    loadNotified: async () => [],
    saveNotified: nothing,
    deleteNotified: nothing,
    loadSilences: async () => [],
    saveSilence: nothing,
    deleteSilence: nothing,
  };
  const engine = createAlertEngine({
    store,
    signals: {
      spanStats: async () => [],
      logCounts: async () => [],
      metricPointCounts: async () => [],
      worstSpans: async () => [],
      logTraces: async () => [],
    },
    exceptions: { topExceptionGroups: async () => [] },
    promql: { backend: 'test', check: async () => null, query: async () => samples() },
    notifier: { send: async () => null, close: () => undefined },
    receivers: [],
    publish: () => undefined,
    clock,
    logger: silentLogger(),
    grouping: { groupWait: 0n, groupInterval: 1n },
  });
  return { engine, clock };
}

test('series that differ only in __name__ fail the evaluation with Prometheus’ error, and the alerts stay as they were', async () => {
  // `a or b` on Prometheus: two series that differ only in their metric name.
  let samples: PromQlSample[] = [{ labels: { __name__: 'a', job: 'api' }, value: 1 }];
  const { engine, clock } = harness(() => samples);
  await engine.start();
  const rule = await engine.createRule('t', { name: 'Either', kind: 'PROMQL', expr: 'a or b', threshold: 0 });
  await engine.tick();
  assert.deepEqual(engine.instances('t', rule.id).map((i) => [i.state, i.value]), [['FIRING', 1]]);

  samples = [
    { labels: { __name__: 'a', job: 'api' }, value: 2 },
    { labels: { __name__: 'b', job: 'api' }, value: 3 },
  ];
  clock.t += MIN;
  await engine.tick();
  assert.equal(engine.status('t', rule.id).lastEvaluationError, SAME_LABELSET);
  assert.deepEqual(engine.instances('t', rule.id).map((i) => [i.state, i.value]), [['FIRING', 1]], 'a failed evaluation changes no alert');
  const failures = engine.metrics().find((m) => m.name === 'teleql_alerting_evaluation_failures_total')!.value;
  assert.equal(failures, 1);
});

test('series that the rule’s labels make alike fail the evaluation too; a duplicate the condition leaves out does not', async () => {
  let samples: PromQlSample[] = [
    { labels: { job: 'api', instance: 'a:1' }, value: 5 },
    { labels: { job: 'api', instance: 'a:2' }, value: 6 },
  ];
  const { engine, clock } = harness(() => samples);
  await engine.start();
  const rule = await engine.createRule('t', { name: 'Overwritten', kind: 'PROMQL', expr: 'up', threshold: 4, labels: { instance: 'all' } });
  await engine.tick();
  assert.equal(engine.status('t', rule.id).lastEvaluationError, SAME_LABELSET);
  assert.deepEqual(engine.instances('t', rule.id), []);

  // As Prometheus runs `expr > threshold`: a series below the threshold is not in the result.
  samples = [
    { labels: { job: 'api', instance: 'a:1' }, value: 5 },
    { labels: { job: 'api', instance: 'a:2' }, value: 1 },
  ];
  clock.t += MIN;
  await engine.tick();
  assert.equal(engine.status('t', rule.id).lastEvaluationError, null);
  assert.deepEqual(engine.instances('t', rule.id).map((i) => i.labels), [{ alertname: 'Overwritten', job: 'api', instance: 'all' }]);
});
