// The record fields a tail can be indexed by (one equality term its filter requires), and what a
// listener's subscribers can match, in those terms: the bus hands an indexed subscriber only the
// records with its value, and the Redis transport sends another replica only the records its
// subscribers there can match.
import type { Resource } from '../model/telemetry.ts';
import { serviceName } from '../model/values.ts';

/** The record fields subscriptions can be indexed by, most selective first. */
export type TailIndexField = 'traceId' | 'name' | 'service';
export const TAIL_INDEX_FIELDS: readonly TailIndexField[] = ['traceId', 'name', 'service'];

export interface TailIndexKey {
  field: TailIndexField;
  value: string;
}

/**
 * What the subscribers behind a listener can match: every record, or only records whose value of
 * one of these fields is listed (a record matching any listed field is wanted).
 */
export type TailInterest = 'all' | { readonly [F in TailIndexField]?: readonly string[] };

/** Each index field's value of a record: spans by service, span name and trace ID; logs by service, event name and trace ID. */
export function fieldReader(field: TailIndexField): (r: unknown) => string | undefined {
  switch (field) {
    case 'traceId':
      return (r) => (r as { traceId?: string }).traceId;
    case 'name':
      // Span name, or a log record's event name.
      return (r) => (r as { name?: string }).name ?? (r as { eventName?: string }).eventName;
    case 'service': {
      // Records of one resource share its object, so its service name is worked out once per run.
      let lastResource: Resource | undefined;
      let lastService = '';
      return (r) => {
        const res = (r as { resource?: Resource }).resource;
        if (!res) return undefined;
        if (res !== lastResource) {
          lastResource = res;
          lastService = serviceName(res);
        }
        return lastService;
      };
    }
  }
}

/** The union of interests: all when any is, else each field's values together (none: nothing wanted). */
export function mergeInterests(interests: Iterable<TailInterest>): TailInterest {
  const merged = new Map<TailIndexField, Set<string>>();
  for (const interest of interests) {
    if (interest === 'all') return 'all';
    for (const field of TAIL_INDEX_FIELDS) {
      for (const value of interest[field] ?? []) {
        let values = merged.get(field);
        if (!values) merged.set(field, (values = new Set()));
        values.add(value);
      }
    }
  }
  return Object.fromEntries([...merged].map(([field, values]) => [field, [...values]]));
}

/** Every value an interest lists, of all its fields; undefined when it wants all. */
export function interestValues(interest: TailInterest): string[] | undefined {
  if (interest === 'all') return undefined;
  return TAIL_INDEX_FIELDS.flatMap((field) => interest[field] ?? []);
}

/** Whether a record is wanted by an interest; undefined when every record is. */
export function interestFilter(interest: TailInterest): ((record: unknown) => boolean) | undefined {
  if (interest === 'all') return undefined;
  const tests: ((record: unknown) => boolean)[] = [];
  for (const field of TAIL_INDEX_FIELDS) {
    const values = interest[field];
    if (!values?.length) continue;
    const read = fieldReader(field);
    const wanted = new Set(values);
    tests.push((record) => {
      const value = read(record);
      return value !== undefined && wanted.has(value);
    });
  }
  return (record) => tests.some((test) => test(record));
}

/**
 * An interest as another replica announced it (JSON), or undefined when it is not one: the
 * announcing side wants all then, which costs bandwidth and never loses a record.
 */
export function parseInterest(raw: unknown): TailInterest | undefined {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) return undefined;
  const interest: { [F in TailIndexField]?: string[] } = {};
  for (const [field, values] of Object.entries(raw as Record<string, unknown>)) {
    if (!(TAIL_INDEX_FIELDS as readonly string[]).includes(field)) return undefined;
    if (!Array.isArray(values) || !values.every((v) => typeof v === 'string')) return undefined;
    interest[field as TailIndexField] = values as string[];
  }
  return interest;
}
