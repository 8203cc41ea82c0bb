// How the pipelines stop: upstream first (receivers, then processors, which flush into the
// exporters), then every exporter at once, so the flush takes the longest exporter's
// shutdownTimeoutMs, not their sum (QA round 32: three hanging backends held SIGTERM 15 s).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildPipelines, type IngestConfig } from '../../../ingest/pipeline.ts';
import { createRegistry } from '../../../ingest/registry.ts';
import type { ExporterFactory, ReceiverFactory } from '../../../ingest/component.ts';
import { deferred } from '../../../ingest/helpers/deferred.ts';
import { silentLogger } from '../../../src/logger.ts';
import { waitFor } from '../../helpers/wait-for.ts';

const host = { logger: silentLogger(), reportError: () => {} };

test('exporters are shut down together, after the receivers, each shutdown held until the test lets it end', async () => {
  const events: string[] = [];
  const release = deferred<void>();
  const receivers: ReceiverFactory<Record<string, never>> = {
    kind: 'receiver',
    type: 'push',
    signals: ['traces', 'logs'],
    createDefaultConfig: () => ({}),
    create: (settings) => ({ start: async () => {}, shutdown: async () => void events.push(`${settings.id} shutdown`) }),
  };
  // As a queued exporter whose backend hangs: its shutdown ends only at its deadline.
  const held: ExporterFactory<Record<string, never>> = {
    kind: 'exporter',
    type: 'held',
    signals: ['traces', 'logs'],
    createDefaultConfig: () => ({}),
    create: (settings) => ({
      start: async () => {},
      consume: async () => {},
      shutdown: async () => {
        events.push(`${settings.id} shutdown`);
        await release.promise;
      },
    }),
  };
  const registry = createRegistry([receivers, held] as never);
  const cfg: IngestConfig = {
    receivers: { push: {} },
    processors: {},
    exporters: { 'held/a': {}, 'held/b': {} },
    pipelines: {
      traces: { receivers: ['push'], processors: [], exporters: ['held/a', 'held/b'] },
      logs: { receivers: ['push'], processors: [], exporters: ['held/a'] },
    },
  };
  const running = buildPipelines(registry, cfg, silentLogger());
  await running.start(host);
  const stopped = running.shutdown();
  await waitFor(async () => events.length, (n) => n === 4, 'every exporter shutting down while none has ended', 3_000);
  assert.equal(events[0], 'push shutdown', 'the receiver first');
  assert.deepEqual(events.slice(1).sort(), ['held/a/logs shutdown', 'held/a/traces shutdown', 'held/b/traces shutdown']);
  release.resolve();
  await stopped;
});
