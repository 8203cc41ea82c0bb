import type { ProcessorFactory } from '../../component.ts';
import { createBatchProcessor, type BatchProcessorConfig } from './batch-processor.ts';

export const batchProcessorFactory: ProcessorFactory<BatchProcessorConfig> = {
  kind: 'processor',
  type: 'batch',
  signals: ['traces', 'logs', 'metrics'],
  // 16,384 items: one DuckDB row group (written straight to the file); two batches' worth queued at
  // most, which bounds the memory decoded items take while they wait.
  createDefaultConfig: () => ({ sendBatchSize: 16_384, timeoutMs: 1_000, maxQueuedItems: 32_768, maxWaitMs: 5_000 }),
  create: (settings, config, _signal, next) => createBatchProcessor(settings.id, config, next, settings.logger),
};
