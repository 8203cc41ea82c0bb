// Masks secrets and personal data in attributes (resource, scope, record, event, link, exemplar,
// metric metadata), log bodies, span status messages and the other free strings of a record (span,
// event and scope names, trace states, severity texts, event names, schema URLs, metric
// descriptions) before anything downstream (batching, attribute limits, storage, exporters,
// embeddings, the live tail) sees them. Values under sensitive keys are masked whole; SQL statements
// lose their string literals; everything else is scanned with the rules in rules.ts, bytes values
// too when they are valid UTF-8.
import type { Logger } from 'pino';
import type { Consumer, Processor, Signal, SignalItems } from '../../component.ts';
import type { AnyValue, KeyValue } from '../../../src/model/telemetry.ts';
import type { MetricSample } from '../../../src/server/metrics.ts';
import { SettingError } from '../../../src/config/merge.ts';
import { visitBatch } from '../attributes-walk.ts';
import { DEFAULT_KEY_QUALIFIERS, LONE_CONTEXT_DIGITS, RULES, type RuleName, SECRET_KEYS, isCardKey, keyMatcher, keyWords, redactSqlLiterals, redactText, secretArgs, sqlDoubleQuotesAreIdentifiers } from './rules.ts';

export interface RedactionProcessorConfig {
  /** Which rules run (all by default). */
  rules: string[];
  /**
   * Attribute keys whose whole value is masked, matched word by word (rules.ts keyMatcher): an
   * entry matches where a word of the key ends with it, case and separators aside (`token` masks
   * `x-auth-token`, `authToken`, `github.token`; not `gen_ai.usage.input_tokens`). The same keys
   * name secrets in text (`key=value`, `"key": "value"`, `Key: value`: the secretAssignment rule),
   * and a `--flag value` on a command line; rules.ts SECRET_KEYS by default.
   */
  sensitiveKeys: string[];
  /**
   * Words that, right after a sensitive word, make the key a property of the secret, not the secret
   * (`llm.token_count.prompt`, `gen_ai.token.type`); also used for `key=value` text.
   */
  sensitiveKeyQualifiers: string[];
  /** Attribute keys holding SQL, whose string literals are masked when `sqlLiteral` is on. */
  sqlKeys: string[];
}

export function defaultRedactionProcessorConfig(): RedactionProcessorConfig {
  return {
    rules: [...RULES],
    sensitiveKeys: [...SECRET_KEYS],
    sensitiveKeyQualifiers: [...DEFAULT_KEY_QUALIFIERS],
    sqlKeys: ['db.statement', 'db.query.text'],
  };
}

const SENSITIVE = '<redacted:sensitiveKey>';

/** Whether a value is under a card key (rules.ts isCardKey): its own, or that of the key-value list it is in (`card: {number: …}`). */
const underCard = (key: string, cardList: boolean) => cardList || isCardKey(key);
const UTF8 = new TextDecoder('utf-8', { fatal: true });

/** The database system a list's SQL is for (`db.system.name`, or the older `db.system`), if it says. */
function dbSystem(list: readonly KeyValue[]): string | undefined {
  for (const kv of list) {
    if ((kv.key === 'db.system.name' || kv.key === 'db.system') && 'stringValue' in kv.value) return kv.value.stringValue;
  }
  return undefined;
}

/** Strings at most this long that no rule changed are remembered (routes, service names, tiers). */
const CLEAN_MAX_LENGTH = 256;
const CLEAN_MAX_ENTRIES = 8192;

export function createRedactionProcessor<S extends Signal>(
  id: string,
  config: RedactionProcessorConfig,
  signal: S,
  next: Consumer<S>,
  _logger: Logger,
): Processor<S> & { counts(): Record<string, number>; metrics(): MetricSample[] } {
  const unknown = config.rules.filter((r) => !(RULES as readonly string[]).includes(r));
  // The pipeline puts the section's key in front (processors.redaction.rules), as the user wrote it.
  if (unknown.length) throw new SettingError('rules', `unknown rule ${unknown.join(', ')} (known: ${RULES.join(', ')})`);
  for (const key of ['sensitiveKeys', 'sensitiveKeyQualifiers', 'sqlKeys'] as const) {
    const bad = config[key].find((k) => typeof k !== 'string' || (key !== 'sqlKeys' && keyWords(k) === ''));
    if (bad !== undefined) throw new SettingError(key, `expected a list of key names with a letter or digit in each (actual entry: ${JSON.stringify(bad)})`);
  }
  const rules = new Set(config.rules as RuleName[]);
  const isSensitive = keyMatcher(config.sensitiveKeys, config.sensitiveKeyQualifiers);
  // One matcher for attribute keys and for keys in text: a key is secret in both places or in neither.
  const textOptions = { assignmentKey: isSensitive };
  const cardKeyOptions = { ...textOptions, cardKey: true };
  const sqlKeys = new Set(config.sqlKeys);
  const counts: Record<string, number> = Object.fromEntries([...RULES, 'sensitiveKey'].map((r) => [r, 0]));
  const count = (r: string) => void counts[r]!++;

  // Short strings no rule changed: most values repeat (routes, names, tiers), and a lookup costs
  // less than the rules. Only clean strings are kept, so no secret stays in memory because of it.
  // Under a card key (`card.number`) a lone number of 17 digits or more is a card (rules.ts
  // LONE_CONTEXT_DIGITS), so a string that long, clean elsewhere, is scanned again there. A Set
  // cleared when full, not an LRU (lru-cache, as rules.ts memoPerKey): with unique values (request
  // IDs, messages) filling it, an LRU cost some 0.8 µs more CPU per span of nine attributes
  // (6.3 → 7.1 µs), more than the rescans after a clear it saves.
  const clean = new Set<string>();
  const scan = (s: string, key?: string, cardList = false): string => {
    if (s === '') return s;
    const short = s.length <= CLEAN_MAX_LENGTH;
    const cardKey = key !== undefined && s.length >= LONE_CONTEXT_DIGITS && underCard(key, cardList);
    if (short && !cardKey && clean.has(s)) return s;
    const r = redactText(s, rules, count, cardKey ? cardKeyOptions : textOptions);
    if (r === s && short) {
      if (clean.size >= CLEAN_MAX_ENTRIES) clean.clear();
      clean.add(s);
    }
    return r;
  };

  /**
   * `sql`: the value is a SQL statement (sqlKeys), and whether "…" in it is a string (not an
   * identifier, by the list's db.system: rules.ts sqlDoubleQuotesAreIdentifiers); `key`: the
   * attribute's key; `cardList`: the key-value list it is in has a card key. Both for the creditCard
   * rule (underCard).
   */
  const redactValue = (v: AnyValue, sql: false | { quotedStrings: boolean }, key?: string, cardList = false): AnyValue => {
    if ('stringValue' in v) {
      let s = v.stringValue;
      if (sql && rules.has('sqlLiteral')) s = redactSqlLiterals(s, count, sql.quotedStrings);
      s = scan(s, key, cardList);
      return s === v.stringValue ? v : { stringValue: s };
    }
    if ('intValue' in v || 'doubleValue' in v) {
      // A card number sent as a number (a JSON log's `"card_number": 4111111111111111` turned into
      // attributes: an integer from an SDK, a double from a JSON parser such as the Collector's):
      // checked under a card key only (the attribute's, or the key-value list's it is in:
      // `card: {number: …}`), where its digits are read as a card's (prefix, length, Luhn). Masked,
      // it becomes the marker, a string: the value's type changes, as for a sensitive key. A double
      // is read only when it is a whole number held exactly (up to 2^53, 16 digits: a longer one's
      // digits are not what was sent). Elsewhere a number is an ID, a count or a time, and random
      // IDs pass a card's checks too often to be read (LONE_CONTEXT_DIGITS).
      if (key === undefined || !rules.has('creditCard') || !underCard(key, cardList)) return v;
      let digits: string;
      if ('intValue' in v) digits = String(v.intValue).replace(/^-/, '');
      else if (Number.isSafeInteger(v.doubleValue)) digits = String(Math.abs(v.doubleValue));
      else return v;
      const r = redactText(digits, rules, count, cardKeyOptions);
      return r === digits ? v : { stringValue: r };
    }
    if ('bytesValue' in v) {
      // Text sent as bytes (a body or payload a logging bridge did not decode) is scanned like a
      // string and stays bytes; bytes that are not UTF-8 are binary and kept as they are.
      let text: string;
      try {
        text = UTF8.decode(Buffer.from(v.bytesValue, 'base64'));
      } catch {
        return v;
      }
      const r = scan(text, key, cardList);
      return r === text ? v : { bytesValue: Buffer.from(r, 'utf8').toString('base64') };
    }
    if ('arrayValue' in v) {
      const values = v.arrayValue.values ?? [];
      const out = values.map((x) => redactValue(x, sql, key, cardList));
      // A command's arguments (`process.command_args`): the value after `--db-password`, mysql's `-pSECRET`.
      if (rules.has('secretAssignment') && out.some((x) => 'stringValue' in x && x.stringValue.charCodeAt(0) === 45)) {
        for (const i of secretArgs(out.map((x) => ('stringValue' in x ? x.stringValue : undefined)), isSensitive)) {
          count('secretAssignment');
          const arg = (out[i] as { stringValue: string }).stringValue;
          out[i] = { stringValue: arg.startsWith('-p') ? '-p<redacted:secretAssignment>' : '<redacted:secretAssignment>' };
        }
      }
      return out.every((x, i) => x === values[i]) ? v : { arrayValue: { values: out } };
    }
    if ('kvlistValue' in v) {
      const values = v.kvlistValue.values ?? [];
      // The list's own values are under its key: `card: {number: …}` (one level: a card's fields, not
      // everything below them).
      const out = redactList(values, key !== undefined && isCardKey(key));
      return out === values ? v : { kvlistValue: { values: out } };
    }
    return v;
  };

  /** A value under a sensitive key: masked whole, or, for a key-value list, each value in it (the keys stay). */
  const maskWhole = (v: AnyValue): AnyValue => {
    if ('kvlistValue' in v) return { kvlistValue: { values: (v.kvlistValue.values ?? []).map((kv) => ({ key: kv.key, value: maskWhole(kv.value) })) } };
    if (Object.keys(v).length === 0) return v; // an empty value hides nothing
    count('sensitiveKey');
    return { stringValue: SENSITIVE };
  };

  /** The list redacted; the same array when nothing in it changed. `card`: it is the value of a card key. */
  const redactList = (list: KeyValue[], card = false): KeyValue[] => {
    let out: KeyValue[] | undefined;
    for (let i = 0; i < list.length; i++) {
      const kv = list[i]!;
      const value = isSensitive(kv.key) ? maskWhole(kv.value) : redactValue(kv.value, sqlKeys.has(kv.key) && { quotedStrings: !sqlDoubleQuotesAreIdentifiers(dbSystem(list)) }, kv.key, card);
      if (value !== kv.value) {
        out ??= list.slice(0, i);
        out.push({ key: kv.key, value });
      } else if (out) out.push(kv);
    }
    return out ?? list;
  };

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
        text: (s, set) => {
          const r = scan(s);
          if (r !== s) set(r);
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
