import type { ProcessorFactory } from '../../component.ts';
import { createLimitsProcessor, defaultLimitsProcessorConfig, type LimitsProcessorConfig } from './limits-processor.ts';

export const limitsProcessorFactory: ProcessorFactory<LimitsProcessorConfig> = {
  kind: 'processor',
  type: 'limits',
  mutatesData: true,
  signals: ['traces', 'logs', 'metrics'],
  createDefaultConfig: defaultLimitsProcessorConfig,
  create: (settings, config, signal, next) => createLimitsProcessor(settings.id, config, signal, next, settings.logger),
};
