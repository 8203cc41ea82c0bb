import type { ProcessorFactory } from '../../component.ts';
import { createRedactionProcessor, defaultRedactionProcessorConfig, type RedactionProcessorConfig } from './redaction-processor.ts';

export const redactionProcessorFactory: ProcessorFactory<RedactionProcessorConfig> = {
  kind: 'processor',
  type: 'redaction',
  mutatesData: true,
  signals: ['traces', 'logs', 'metrics'],
  createDefaultConfig: defaultRedactionProcessorConfig,
  create: (settings, config, signal, next) => createRedactionProcessor(settings.id, config, signal, next, settings.logger),
};
