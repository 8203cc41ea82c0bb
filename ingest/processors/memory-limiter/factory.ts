import type { ProcessorFactory } from '../../component.ts';
import { createMemoryLimiter, defaultMemoryLimiterConfig, type MemoryLimiterConfig } from './memory-limiter.ts';

export const memoryLimiterProcessorFactory: ProcessorFactory<MemoryLimiterConfig> = {
  kind: 'processor',
  type: 'memory_limiter',
  mutatesData: false,
  signals: ['traces', 'logs', 'metrics'],
  createDefaultConfig: defaultMemoryLimiterConfig,
  create: (settings, config, signal, next) => createMemoryLimiter(settings.id, config, next, settings.logger),
};
