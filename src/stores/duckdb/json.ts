// The OTLP/JSON text kept in the record columns. JSON.stringify alone would lose bigints (it throws)
// and non-finite doubles and -0 (it writes null / 0), so those are written as strings and read back.

function replacer(_key: string, v: unknown): unknown {
  if (typeof v === 'bigint') return v.toString();
  if (typeof v === 'number' && (!Number.isFinite(v) || Object.is(v, -0))) return Object.is(v, -0) ? '-0' : String(v);
  return v;
}

// Every NaN/±Infinity becomes `"doubleValue":null` and -0 `"doubleValue":0` (the values written
// here are AnyValue-based: their only non-integer numbers are doubleValue); seeing neither means the
// fast path was lossless. A looser `:0` matched every resource's and scope's droppedAttributesCount
// and sent them all through the replacer (~2.5 µs each).
const MAYBE_LOSSY = /"doubleValue":(?:null|0)[,}]/;

/** JSON text of an AnyValue-based value without bigints (attributes, links, resource, scope, body). */
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
