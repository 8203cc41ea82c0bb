// The OTLP/JSON text kept in the record columns. JSON.stringify alone would lose bigints (it throws)
// and non-finite doubles and -0 (it writes null / 0), so those are written as strings and read back.

function replacer(_key: string, v: unknown): unknown {
  if (typeof v === 'bigint') return v.toString();
  if (typeof v === 'number' && (!Number.isFinite(v) || Object.is(v, -0))) return Object.is(v, -0) ? '-0' : String(v);
  return v;
}

// Every NaN/±Infinity becomes `:null` and -0 becomes `:0`; seeing neither means the fast path was lossless.
const MAYBE_LOSSY = /:(?:null|0)[,}\]]/;

/** JSON text of a value without bigints (attributes, links, resource, scope, body). */
export function encodeJson(value: unknown): string {
  const text = JSON.stringify(value);
  return MAYBE_LOSSY.test(text) ? JSON.stringify(value, replacer) : text;
}

/** JSON text of a value holding bigints (events, exemplars). */
export function encodeJsonWithBigInts(value: unknown): string {
  return JSON.stringify(value, replacer);
}

const SPECIAL_NUMBER = /"(?:NaN|-?Infinity|-0)"/;
const DOUBLE_KEYS = new Set(['doubleValue', 'asDouble']);

function reviver(key: string, v: unknown): unknown {
  return typeof v === 'string' && DOUBLE_KEYS.has(key) ? Number(v) : v;
}

/** Parses text written by encodeJson/encodeJsonWithBigInts; bigint fields are the caller's to revive. */
export function decodeJson<T>(text: string): T {
  return (SPECIAL_NUMBER.test(text) ? JSON.parse(text, reviver) : JSON.parse(text)) as T;
}
