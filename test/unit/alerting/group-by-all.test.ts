// groupBy ["..."] groups by all labels, as Alertmanager's `...`: every alert is its own group, with
// its own groupKey and message. Found by QA (round 33, D3): the three alerts went in one message
// under groupKey {}:{tenant="g"}, as if "..." were a label none of them had.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createAlertEngine } from '../../../src/alerting/engine.ts';
import type { Notification, Notifier } from '../../../src/alerting/notify.ts';
import type { AlertStore, PromQlEvaluator } from '../../../src/alerting/types.ts';
import { silentLogger } from '../../../src/logger.ts';

const T0 = 1_764_000_000_000_000_000n;

/** An alert store that keeps nothing: this test reads only what is notified. */
const nullStore = (): AlertStore => ({
  loadRules: async () => [],
  saveRule: async () => undefined,
  deleteRule: async () => undefined,
  loadInstances: async () => [],
  saveInstance: async () => undefined,
  deleteInstance: async () => undefined,
  appendHistory: async () => undefined,
  deleteHistoryBefore: async () => 0,
  history: async () => [],
  alerts: async () => [],
  loadNotified: async () => [],
  saveNotified: async () => undefined,
  deleteNotified: async () => undefined,
  loadSilences: async () => [],
  saveSilence: async () => undefined,
  deleteSilence: async () => undefined,
});

test('groupBy ["..."] sends each alert in its own group, keyed by all its labels', async () => {
  const clock = { t: T0, now: () => clock.t };
  const delivered: Notification[] = [];
  const notifier: Notifier = {
    send: async (n) => {
      delivered.push(n);
      return null;
    },
    close: () => undefined,
  };
  const promql: PromQlEvaluator = {
    backend: 'test',
    check: async () => null,
    query: async () => ['a', 'b', 'c'].map((service) => ({ labels: { service }, value: 1 })),
  };
  const engine = createAlertEngine({
    store: nullStore(),
    signals: { spanStats: async () => [], logCounts: async () => [], metricPointCounts: async () => [], worstSpans: async () => [], logTraces: async () => [] },
    exceptions: { topExceptionGroups: async () => [] },
    promql,
    notifier,
    receivers: [{ name: 'hook', type: 'webhook', url: 'http://127.0.0.1:9/' }],
    publish: () => undefined,
    clock,
    logger: silentLogger(),
    grouping: { groupWait: 30_000_000_000n, groupInterval: 300_000_000_000n },
  });
  await engine.start();
  await engine.createRule('g', { name: 'Dots', kind: 'PROMQL', expr: 'x', threshold: 0, groupBy: ['...'] });
  await engine.tick();
  // Past any group_wait: each group's first message is out.
  clock.t += 60_000_000_000n;
  await engine.tick();
  await engine.idle();
  const groups = new Map(delivered.map((n) => [n.groupKey, [n.groupKey, n.groupLabels, n.alerts.map((a) => a.labels.service)]]));
  assert.deepEqual(
    [...groups.values()].sort(),
    ['a', 'b', 'c'].map((service) => [`{}:{alertname="Dots", service="${service}", tenant="g"}`, { alertname: 'Dots', service, tenant: 'g' }, [service]]),
  );
  await engine.stop();
});
