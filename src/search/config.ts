// Checks of the `search` config section (called by the config loader; light to import).
import type { ConfigProblems } from '../config/merge.ts';
import type { GatewayConfig } from '../config/types.ts';

export type SearchConfig = GatewayConfig['search'];

/**
 * The ONNX weight variants transformers.js (4.x, DATA_TYPES in its utils/dtypes.js) knows; '' is the
 * model's default. It falls back to fp32 for any other value, so a typo would load other weights
 * (or fail on a missing model.onnx) instead of being named at start.
 */
export const SEARCH_DTYPES = ['', 'auto', 'fp32', 'fp16', 'q8', 'int8', 'uint8', 'q4', 'bnb4', 'q4f16', 'q2', 'q2f16', 'q1', 'q1f16'] as const;

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
  if (!(SEARCH_DTYPES as readonly string[]).includes(c.dtype)) {
    problems.add(`search.dtype: expected '' (the model's default) or one of ${SEARCH_DTYPES.filter((d) => d).join('|')} (actual: '${c.dtype}')`);
  }
  if (c.enabled && c.model.trim() === '') problems.add('search.model: must not be empty when search is enabled');
}
