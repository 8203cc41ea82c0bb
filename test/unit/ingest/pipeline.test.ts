import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { buildPipelines, type IngestConfig } from '../../../ingest/pipeline.ts';
import { createRegistry } from '../../../ingest/registry.ts';
import { batchProcessorFactory } from '../../../ingest/processors/batch/factory.ts';
import { memoryLimiterProcessorFactory } from '../../../ingest/processors/memory-limiter/factory.ts';
import { redactionProcessorFactory } from '../../../ingest/processors/redaction/factory.ts';
import { fanout } from '../../../ingest/helpers/fanout.ts';
import { ConsumeError, type Consumer, type ExporterFactory, type NextConsumers, type ReceiverFactory } from '../../../ingest/component.ts';
import { sinkConsumer, type SinkConsumer } from '../../helpers/sink-consumer.ts';
import { span } from '../../helpers/telemetry-builders.ts';
import { silentLogger } from '../../../src/logger.ts';
import { ConfigError, SettingError } from '../../../src/config/merge.ts';

const host = { logger: silentLogger(), reportError: () => {} };

/** A receiver whose next consumers the test can call, standing in for a socket. */
function testReceiverFactory(captured: Map<string, NextConsumers>): ReceiverFactory<{ label: string }> {
  return {
    kind: 'receiver',
    type: 'push',
    signals: ['traces', 'logs'],
    createDefaultConfig: () => ({ label: '' }),
    create: (settings, _config, next) => {
      captured.set(settings.id, next);
      return { start: async () => {}, shutdown: async () => {} };
    },
  };
}

/** An exporter whose create refuses its `endpoint` as a component does: by its key within its section, or with a plain Error. */
function pickyExporterFactory(): ExporterFactory<{ endpoint: string }> {
  return {
    kind: 'exporter',
    type: 'picky',
    signals: ['traces'],
    createDefaultConfig: () => ({ endpoint: '' }),
    create: (_settings, config) => {
      if (config.endpoint === 'plain') throw new Error('the library said no');
      throw new SettingError('endpoint', `${JSON.stringify(config.endpoint)} is not a URL`);
    },
  };
}

function sinkExporterFactory(sinks: Map<string, SinkConsumer<'traces'>>): ExporterFactory<Record<string, never>> {
  return {
    kind: 'exporter',
    type: 'sink',
    signals: ['traces'],
    createDefaultConfig: () => ({}),
    create: (settings) => {
      const sink = sinkConsumer<'traces'>();
      sinks.set(settings.id, sink);
      return Object.assign(sink, { start: async () => {}, shutdown: async () => {} }) as never;
    },
  };
}

/** An exporter that records its lifecycle calls in `events`. */
function recordingExporterFactory(events: string[]): ExporterFactory<Record<string, never>> {
  return {
    kind: 'exporter',
    type: 'rec',
    signals: ['traces'],
    createDefaultConfig: () => ({}),
    create: (settings) => ({
      consume: async () => {},
      start: async () => {},
      shutdownBegins: () => void events.push(`${settings.id} begins`),
      shutdown: async () => void events.push(`${settings.id} shutdown`),
    }),
  };
}

describe('pipelines', () => {
  test('every component hears that shutdown begins before the first is shut down (so an exporter bounds the flush it is about to get)', async () => {
    const events: string[] = [];
    const registry = createRegistry([testReceiverFactory(new Map()), batchProcessorFactory, recordingExporterFactory(events)]);
    const cfg: IngestConfig = {
      receivers: { push: {} },
      processors: { batch: { timeoutMs: 5 } },
      exporters: { rec: {} },
      pipelines: { traces: { receivers: ['push'], processors: ['batch'], exporters: ['rec'] } },
    };
    const running = buildPipelines(registry, cfg, silentLogger());
    await running.start(host);
    await running.shutdown();
    assert.deepEqual(events, ['rec/traces begins', 'rec/traces shutdown']);
  });

  test('a receiver feeds processors and every exporter of its pipeline', async () => {
    const captured = new Map<string, NextConsumers>();
    const sinks = new Map<string, SinkConsumer<'traces'>>();
    const registry = createRegistry([testReceiverFactory(captured), batchProcessorFactory, sinkExporterFactory(sinks)]);
    const cfg: IngestConfig = {
      receivers: { 'push/a': {} },
      processors: { batch: { timeoutMs: 5 } },
      exporters: { 'sink/one': {}, 'sink/two': {} },
      pipelines: { traces: { receivers: ['push/a'], processors: ['batch'], exporters: ['sink/one', 'sink/two'] } },
    };
    const running = buildPipelines(registry, cfg, silentLogger());
    assert.deepEqual([...running.components.keys()], ['sink/one/traces', 'sink/two/traces', 'batch/traces', 'push/a']);
    await running.start(host);
    await captured.get('push/a')!.traces!.consume([span({ name: 'x' })]);
    await running.shutdown();
    assert.deepEqual(sinks.get('sink/one/traces')!.all().map((s) => s.name), ['x']);
    assert.deepEqual(sinks.get('sink/two/traces')!.all().map((s) => s.name), ['x']);
  });

  test('the tap gets the request a batch was decoded from only while no processor before it mutates data', async () => {
    const captured = new Map<string, NextConsumers>();
    const sinks = new Map<string, SinkConsumer<'traces'>>();
    const registry = createRegistry([testReceiverFactory(captured), batchProcessorFactory, memoryLimiterProcessorFactory, redactionProcessorFactory, sinkExporterFactory(sinks)]);
    const request = { body: Buffer.from('{}'), format: 'json' as const, receivedAt: 1n };
    const tapped = async (processors: string[]) => {
      const seen: unknown[] = [];
      const tap: Consumer<'traces'> = {
        consume: (_items, r) => {
          seen.push(r);
          return Promise.resolve();
        },
      };
      const running = buildPipelines(
        registry,
        {
          receivers: { 'push/a': {} },
          processors: { batch: { timeoutMs: 5 }, memory_limiter: {}, redaction: {} },
          exporters: { sink: {} },
          pipelines: { traces: { receivers: ['push/a'], processors, exporters: ['sink'] } },
        },
        silentLogger(),
        { traces: tap },
      );
      await running.start(host);
      await captured.get('push/a')!.traces!.consume([span({ name: 'x' })], request);
      await running.shutdown();
      return seen;
    };
    assert.deepEqual(await tapped(['memory_limiter', 'batch']), [request]);
    assert.deepEqual(await tapped([]), [request]);
    // Redaction changes records in place: decoding the request again would give them unredacted.
    assert.deepEqual(await tapped(['memory_limiter', 'redaction', 'batch']), [undefined]);
  });

  test('configuration mistakes are refused with a message naming them', () => {
    const registry = createRegistry([testReceiverFactory(new Map()), batchProcessorFactory, sinkExporterFactory(new Map()), pickyExporterFactory()]);
    const base: IngestConfig = { receivers: { push: {} }, processors: { batch: {} }, exporters: { sink: {} }, pipelines: {} };
    const cases: [Partial<IngestConfig>, RegExp][] = [
      [
        { pipelines: { traces: { receivers: ['push/other'], processors: [], exporters: ['sink'] } } },
        /^pipelines\.traces\.receivers: receiver "push\/other" is named in the pipeline but there is no receivers\.push\/other section \(configured receivers: push\)/,
      ],
      // An exporter type that is only registered when its section exists (jaeger, say) is a missing section, not an unknown type.
      [
        { pipelines: { traces: { receivers: ['push'], processors: [], exporters: ['sink', 'jaeger'] } } },
        /^pipelines\.traces\.exporters: exporter "jaeger" is named in the pipeline but there is no exporters\.jaeger section \(configured exporters: sink\); add exporters\.jaeger to the config file$/,
      ],
      // What a factory refuses names the section, and the key when the factory names it.
      [{ exporters: { 'picky/a': { endpoint: 'not a url' } }, pipelines: { traces: { receivers: ['push'], processors: [], exporters: ['picky/a'] } } }, /^exporters\.picky\/a\.endpoint: "not a url" is not a URL$/],
      [{ exporters: { picky: { endpoint: 'plain' } }, pipelines: { traces: { receivers: ['push'], processors: [], exporters: ['picky'] } } }, /^exporters\.picky: the library said no$/],
      [{ receivers: { 'nope/x': {} }, pipelines: { traces: { receivers: ['nope/x'], processors: [], exporters: ['sink'] } } }, /unknown receiver type "nope"/],
      // A section no pipeline names is checked too: a misspelt type or key was silently ignored.
      [{ processors: { batch: {}, redacton: {} }, pipelines: { traces: { receivers: ['push'], processors: ['batch'], exporters: ['sink'] } } }, /^processors\.redacton: unknown processor type "redacton" \(known: batch\)$/],
      [{ processors: { batch: {}, 'batch/slow': { timeoutMz: 1 } }, pipelines: { traces: { receivers: ['push'], processors: ['batch'], exporters: ['sink'] } } }, /^processors\.batch\/slow: unknown key "timeoutMz"/],
      [{ pipelines: { logs: { receivers: ['push'], processors: [], exporters: ['sink'] } } }, /"sink" does not support the logs signal/],
      [{ pipelines: { traces: { receivers: ['push'], processors: [], exporters: [] } } }, /needs at least one receiver and one exporter/],
      [{ processors: { batch: { sendBatchSise: 1 } }, pipelines: { traces: { receivers: ['push'], processors: ['batch'], exporters: ['sink'] } } }, /processors\.batch: unknown key "sendBatchSise"/],
      [{ processors: { batch: { timeoutMs: 'soon' } }, pipelines: { traces: { receivers: ['push'], processors: ['batch'], exporters: ['sink'] } } }, /processors\.batch\.timeoutMs: expected number \(actual: "soon"\)/],
      // A sendBatchSize of 0 made the batch loop spin forever on its first item (only SIGKILL stopped the gateway).
      [{ processors: { batch: { sendBatchSize: 0 } }, pipelines: { traces: { receivers: ['push'], processors: ['batch'], exporters: ['sink'] } } }, /processors\.batch: sendBatchSize: expected an integer of 1 or more \(actual: 0\)/],
      [{ processors: { 'batch/fast': { timeoutMs: -1 } }, pipelines: { traces: { receivers: ['push'], processors: ['batch/fast'], exporters: ['sink'] } } }, /processors\.batch\/fast: timeoutMs: expected whole milliseconds, 0 or more \(actual: -1\)/],
    ];
    // Each is a ConfigError, which `teleql serve` reports with exit code 2 (not a stack trace and 1).
    for (const [over, message] of cases) {
      assert.throws(() => buildPipelines(registry, { ...base, ...over }, silentLogger()), (err: Error) => err instanceof ConfigError && message.test(err.message));
    }
    assert.throws(() => createRegistry([batchProcessorFactory, batchProcessorFactory]), /duplicate processor factory for type "batch"/);
  });

  test('every mistake of the components is named at once, an exporter of two pipelines once', () => {
    // Found in review: the gateway stopped at the first section it could not build, so a config with
    // three mistakes took three restarts to learn them.
    const registry = createRegistry([testReceiverFactory(new Map()), batchProcessorFactory, sinkExporterFactory(new Map()), pickyExporterFactory()]);
    const cfg: IngestConfig = {
      receivers: { push: {} },
      processors: { batch: { sendBatchSize: 0 }, redacton: {} },
      exporters: { sink: {}, picky: { endpoint: 'plain' }, nosuch: {} },
      pipelines: {
        traces: { receivers: ['push'], processors: ['batch'], exporters: ['sink', 'picky', 'missing', 'nosuch'] },
        metrics: { receivers: ['push'], processors: [], exporters: ['picky', 'nosuch'] },
        logs: { receivers: ['push'], processors: [], exporters: ['sink'] },
      },
    };
    assert.throws(
      () => buildPipelines(registry, cfg, silentLogger()),
      (err: Error) => {
        assert.ok(err instanceof ConfigError);
        assert.deepEqual(err.message.split('\n'), [
          '8 mistakes:',
          '  - pipelines.traces.exporters: exporter "missing" is named in the pipeline but there is no exporters.missing section (configured exporters: sink, picky, nosuch); add exporters.missing to the config file',
          '  - processors.redacton: unknown processor type "redacton" (known: batch)',
          '  - exporters.picky: the library said no',
          '  - exporters.nosuch: unknown exporter type "nosuch" (known: sink, picky)',
          '  - processors.batch: sendBatchSize: expected an integer of 1 or more (actual: 0)',
          '  - pipelines.metrics.exporters: exporter "picky": component type "picky" does not support the metrics signal',
          '  - pipelines.logs.exporters: exporter "sink": component type "sink" does not support the logs signal',
          '  - pipelines.metrics.receivers: receiver "push": component type "push" does not support the metrics signal',
        ]);
        return true;
      },
    );
  });

  test('fan-out delivers to every consumer and is permanent only when every failure is', async () => {
    const ok = sinkConsumer<'traces'>();
    const bad = sinkConsumer<'traces'>();
    const flaky = sinkConsumer<'traces'>();
    bad.failWith('permanent');
    await assert.rejects(fanout<'traces'>([ok, bad]).consume([span()]), (e: unknown) => e instanceof ConsumeError && e.permanent);
    assert.equal(ok.count(), 1, 'the healthy consumer still got the batch');
    flaky.failWith('retryable');
    await assert.rejects(fanout<'traces'>([bad, flaky]).consume([span()]), (e: unknown) => e instanceof ConsumeError && !e.permanent);
    const single: Consumer<'traces'> = ok;
    assert.equal(fanout([single]), single);
  });
});
