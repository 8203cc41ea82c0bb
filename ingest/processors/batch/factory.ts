import type { ProcessorFactory } from '../../component.ts';
import { createBatchProcessor, type BatchProcessorConfig } from './batch-processor.ts';

export const batchProcessorFactory: ProcessorFactory<BatchProcessorConfig> = {
  kind: 'processor',
  type: 'batch',
  signals: ['traces', 'logs', 'metrics'],
  createDefaultConfig: () => ({ sendBatchSize: 32_768, timeoutMs: 200, maxQueuedItems: 65_536, maxWaitMs: 5_000 }),
  create: (settings, config, _signal, next) => createBatchProcessor(settings.id, config, next, settings.logger),
};
