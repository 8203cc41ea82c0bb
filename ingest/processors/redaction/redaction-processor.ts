// Masks secrets and personal data in attributes (resource, scope, record, event, link, exemplar),
// log bodies and span status messages before anything downstream (batching, storage, exporters,
// embeddings, the live tail) sees them. Values under sensitive keys are masked whole; SQL
// statements lose their string literals; everything else is scanned with the rules in rules.ts.
import type { Logger } from 'pino';
import type { Consumer, Processor, Signal, SignalItems } from '../../component.ts';
import type { AnyValue, KeyValue } from '../../../src/model/telemetry.ts';
import type { MetricSample } from '../../../src/server/metrics.ts';
import { visitBatch } from '../attributes-walk.ts';
import { RULES, type RuleName, redactSqlLiterals, redactText } from './rules.ts';

export interface RedactionProcessorConfig {
  /** Which rules run (all by default). */
  rules: string[];
  /** Attribute keys (case-insensitive substrings) whose whole value is masked. */
  sensitiveKeys: string[];
  /** Attribute keys holding SQL, whose string literals are masked when `sqlLiteral` is on. */
  sqlKeys: string[];
}

export function defaultRedactionProcessorConfig(): RedactionProcessorConfig {
  return {
    rules: [...RULES],
    sensitiveKeys: ['password', 'passwd', 'secret', 'token', 'api_key', 'apikey', 'api-key', 'authorization', 'cookie', 'credential', 'private_key'],
    sqlKeys: ['db.statement', 'db.query.text'],
  };
}

export function createRedactionProcessor<S extends Signal>(
  id: string,
  config: RedactionProcessorConfig,
  signal: S,
  next: Consumer<S>,
  _logger: Logger,
): Processor<S> & { counts(): Record<string, number>; metrics(): MetricSample[] } {
  const unknown = config.rules.filter((r) => !(RULES as readonly string[]).includes(r));
  if (unknown.length) throw new Error(`processors.${id}.rules: unknown rule ${unknown.join(', ')} (known: ${RULES.join(', ')})`);
  const rules = new Set(config.rules as RuleName[]);
  const sensitive = config.sensitiveKeys.map((k) => k.toLowerCase());
  const sqlKeys = new Set(config.sqlKeys);
  const counts: Record<string, number> = Object.fromEntries([...RULES, 'sensitiveKey'].map((r) => [r, 0]));
  const count = (r: string) => void counts[r]!++;

  const redactValue = (v: AnyValue, sql: boolean): AnyValue => {
    if ('stringValue' in v) {
      let s = v.stringValue;
      if (sql && rules.has('sqlLiteral')) s = redactSqlLiterals(s, count);
      s = redactText(s, rules, count);
      return s === v.stringValue ? v : { stringValue: s };
    }
    if ('arrayValue' in v) return { arrayValue: { values: (v.arrayValue.values ?? []).map((x) => redactValue(x, sql)) } };
    if ('kvlistValue' in v) return { kvlistValue: { values: redactList(v.kvlistValue.values ?? []) } };
    return v;
  };

  const redactList = (list: KeyValue[]): KeyValue[] =>
    list.map((kv) => {
      const key = kv.key.toLowerCase();
      if (sensitive.some((s) => key.includes(s)) && !('kvlistValue' in kv.value) && Object.keys(kv.value).length > 0) {
        count('sensitiveKey');
        return { key: kv.key, value: { stringValue: '<redacted:sensitiveKey>' } };
      }
      const value = redactValue(kv.value, sqlKeys.has(kv.key));
      return value === kv.value ? kv : { key: kv.key, value };
    });

  return {
    start: () => Promise.resolve(),
    shutdown: () => Promise.resolve(),
    consume(items: readonly SignalItems[S][]) {
      // In place and before the first await: the live-tail tap, given the same objects once this
      // call has started, only ever sees redacted records.
      visitBatch(signal, items, {
        attributes: (h) => void (h.attributes = redactList(h.attributes)),
        value: (v, set) => {
          const r = redactValue(v, false);
          if (r !== v) set(r);
        },
      });
      return next.consume(items);
    },
    counts: () => ({ ...counts }),
    metrics: () =>
      Object.entries(counts).map(([rule, value]) => ({
        name: 'teleql_redaction_masked_total',
        help: 'Values masked by the redaction processor',
        type: 'counter' as const,
        value,
        labels: { component: id, rule },
      })),
  };
}
