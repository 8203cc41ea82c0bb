import type { ProcessorFactory } from '../../component.ts';
import { createBatchProcessor, type BatchProcessorConfig } from './batch-processor.ts';

export const batchProcessorFactory: ProcessorFactory<BatchProcessorConfig> = {
  kind: 'processor',
  type: 'batch',
  mutatesData: false,
  signals: ['traces', 'logs', 'metrics'],
  // 16,384 items: one DuckDB row group (written straight to the file); two batches' worth queued at
  // most, which bounds the memory decoded items take while they wait.
  createDefaultConfig: () => ({ sendBatchSize: 16_384, timeoutMs: 1_000, maxQueuedItems: 32_768, maxWaitMs: 5_000 }),
  create: (settings, config, _signal, next) => {
    const problems = (['sendBatchSize', 'maxQueuedItems'] as const)
      .filter((k) => !Number.isSafeInteger(config[k]) || config[k] < 1)
      .map((k) => `${k}: expected an integer of 1 or more (actual: ${config[k]})`);
    for (const k of ['timeoutMs', 'maxWaitMs'] as const) {
      if (!Number.isSafeInteger(config[k]) || config[k] < 0) problems.push(`${k}: expected whole milliseconds, 0 or more (actual: ${config[k]})`);
    }
    // settings.id is `<id>/<signal>`; the config key is the id.
    if (problems.length) throw new Error(`processors.${settings.id.slice(0, settings.id.lastIndexOf('/'))}: ${problems.join('; ')}`);
    return createBatchProcessor(settings.id, config, next, settings.logger);
  },
};
