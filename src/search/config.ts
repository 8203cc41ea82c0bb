// Checks of the `search` config section (called by the config loader; light to import).
import type { ConfigProblems } from '../config/merge.ts';
import type { GatewayConfig } from '../config/types.ts';

export type SearchConfig = GatewayConfig['search'];

export function validateSearchConfig(c: SearchConfig, problems: ConfigProblems): void {
  const positive = (key: string, v: number) => {
    if (!Number.isInteger(v) || v < 1) problems.add(`search.${key}: expected an integer greater than 0 (actual: ${v})`);
  };
  positive('queueSize', c.queueSize);
  positive('batchSize', c.batchSize);
  positive('ann.connectivity', c.ann.connectivity);
  positive('ann.expansionAdd', c.ann.expansionAdd);
  positive('ann.expansionSearch', c.ann.expansionSearch);
  if (!Number.isInteger(c.exactThreshold) || c.exactThreshold < 0) {
    problems.add(`search.exactThreshold: expected an integer ≥ 0 (actual: ${c.exactThreshold})`);
  }
  if (!(c.keywordWeight >= 0 && c.keywordWeight <= 1)) problems.add(`search.keywordWeight: expected a number from 0 to 1 (actual: ${c.keywordWeight})`);
  if (!['f32', 'f16', 'i8'].includes(c.ann.quantization)) problems.add(`search.ann.quantization: expected f32|f16|i8 (actual: '${c.ann.quantization}')`);
  if (c.enabled && c.model.trim() === '') problems.add('search.model: must not be empty when search is enabled');
}
