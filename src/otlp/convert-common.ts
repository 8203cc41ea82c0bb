// Reads OTLP messages into the model. One reader serves both encodings: a protobufjs message
// (camelCase fields, unset scalars on the prototype, bytes as Buffer, 64-bit ints as Long) and
// parsed OTLP/JSON (camelCase after normalisation, IDs as hex or base64, int64 as string or number,
// enums as number or name). Every value is untrusted, so each reader checks its type.
import type { AnyValue, InstrumentationScope, KeyValue, Resource } from '../model/telemetry.ts';
import { INT64_MAX, INT64_MIN } from '../model/int64.ts';

/** A message: protobufjs-decoded or parsed JSON. */
export type Msg = { readonly [field: string]: unknown };

/** The input is not OTLP; the message names the field and what is wrong with it. */
export class OtlpDecodeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'OtlpDecodeError';
  }
}

// Refusing an item used to cost ~5 µs (an Error with its stack, thrown, its message and path), three
// times converting a valid span, so a request of a million bad items held the event loop for
// seconds. A partial success quotes only a few reasons, so only the first DESCRIBED_REJECTIONS of a
// request are described. Past them a reader that meets an invalid value marks the item refused and
// returns a placeholder, and the item is converted on to its end and then counted: no exception
// (a throw alone cost V8 ~1.7 µs here), no message, no path.

/**
 * How many rejections of a request keep their path and reason; the rest are only counted. More than
 * a partial success quotes (codec.ts), so that a sender's few distinct mistakes are all described.
 */
export const DESCRIBED_REJECTIONS = 16;

/** Stands for every rejection past the described ones. */
export const UNDESCRIBED_REJECTION: Rejection = Object.freeze({
  item: '(not described)',
  reason: `not described: only the first ${DESCRIBED_REJECTIONS} rejections of a request are`,
});

/** False only while an item is converted after its request's described rejections are used up. */
let describing = true;
/** Whether the item being converted without description met an invalid value. */
let refused = false;

/**
 * A reader's answer to an invalid value: throws the described error while rejections are described
 * (and outside items, where the request as a whole is refused); past them marks the item refused and
 * returns `placeholder` so that the conversion runs on. `describe(...args)` runs only when it is
 * reported. It is given the values rather than closing over them: a closure over a reader's
 * parameters made V8 allocate a context on every call, valid values too (~15% of a span's decode).
 */
export function fail<T, A extends unknown[]>(placeholder: T, describe: (...args: A) => string, ...args: A): T {
  if (describing) throw new OtlpDecodeError(describe(...args));
  refused = true;
  return placeholder;
}

/**
 * `convert(input)` as part of `out`: readers describe what is invalid (throw) while `out` still
 * describes rejections; past them an invalid input gives undefined, to be counted as rejected.
 */
export function convertFor<I, T>(out: Decoded<unknown>, input: I, convert: (input: I) => T): T | undefined {
  describing = out.rejected.length < DESCRIBED_REJECTIONS;
  refused = false;
  try {
    const converted = convert(input);
    return refused ? undefined : converted;
  } finally {
    describing = true;
  }
}

/**
 * Converts each of `items` into `out.items`, or records it as rejected: the first
 * DESCRIBED_REJECTIONS with `path()[i]` and the reason, the rest as UNDESCRIBED_REJECTION.
 */
export function convertItems<T>(out: Decoded<T>, items: readonly unknown[], path: () => string, convert: (item: unknown) => T): void {
  // convertFor's steps written out, so that an item costs no call or try/finally of its own.
  try {
    for (let i = 0; i < items.length; i++) {
      describing = out.rejected.length < DESCRIBED_REJECTIONS;
      refused = false;
      let item: T;
      try {
        item = convert(items[i]);
      } catch (err) {
        out.rejected.push(describedRejection(out, path, i, err));
        continue;
      }
      if (refused) out.rejected.push(UNDESCRIBED_REJECTION);
      else out.items.push(item);
    }
  } finally {
    describing = true;
  }
}

/** Records every one of `items` as rejected for one reason (their metric's descriptor is invalid). */
export function rejectAll(out: Decoded<unknown>, items: readonly unknown[], path: () => string, err: unknown): void {
  for (let i = 0; i < items.length; i++) out.rejected.push(describedRejection(out, path, i, err));
}

function describedRejection(out: Decoded<unknown>, path: () => string, i: number, err: unknown): Rejection {
  return out.rejected.length < DESCRIBED_REJECTIONS ? { item: `${path()}[${i}]`, reason: reasonOf(err) } : UNDESCRIBED_REJECTION;
}

const EMPTY: Msg = Object.freeze({});
const NONE: readonly unknown[] = Object.freeze([]);

// One nesting rule for every encoding. An AnyValue nested deeper than MAX_ANY_VALUE_DEPTH refuses
// its item (partial success), whether it came as OTLP/JSON (either key style) or protobuf, and
// whatever the receiver accepts the encoder (Jaeger exporter, spill) can write. The codec's other
// depth limits are derived from it here and applied where the codec is configured (proto.ts, codec.ts).

/** Deeper AnyValues are refused, item by item. */
export const MAX_ANY_VALUE_DEPTH = 64;
/**
 * protobufjs's message-nesting limit, for decode and encode alike (its default, 100, let through
 * about 32 kvlist levels). An attribute's outermost AnyValue is at most 8 messages deep (request →
 * resource → scope → metric → histogram → point → exemplar → KeyValue → AnyValue), and each AnyValue
 * level nests at most 3 more (kvlistValue → KeyValue → AnyValue). Twice the levels the converters
 * accept: a value nested somewhat too deep still decodes, so the depth check refuses just its item;
 * only one nested past this (thousands of bytes of nothing but nesting) refuses the whole body, and
 * the recursion stays far within the stack.
 */
export const PROTOBUF_RECURSION_LIMIT = 8 + 3 * 2 * MAX_ANY_VALUE_DEPTH;
/**
 * How deep OTLP/JSON's snake_case keys (proto field names) are renamed: an AnyValue at the deepest
 * accepted level and the one just below it (which the depth check refuses) sit at most
 * 14 + 4 × (MAX_ANY_VALUE_DEPTH + 1) JSON levels deep (4 per kvlist level: kvlistValue, values, KeyValue, value).
 */
export const JSON_KEY_DEPTH = 16 + 4 * (MAX_ANY_VALUE_DEPTH + 1);

export function msg(v: unknown, field: string): Msg {
  if (v == null) return EMPTY;
  if (typeof v !== 'object' || Array.isArray(v)) return fail(EMPTY, (field) => `${field} must be an object`, field);
  return v as Msg;
}

export function list(v: unknown, field: string): readonly unknown[] {
  if (v == null) return [];
  if (!Array.isArray(v)) return fail(NONE, (field) => `${field} must be an array`, field);
  return v;
}

/** True when the message itself carries the field (protobufjs keeps unset defaults on the prototype). */
export function has(m: Msg, field: string): boolean {
  return Object.prototype.hasOwnProperty.call(m, field) && m[field] != null;
}

export function str(v: unknown, field: string): string {
  if (typeof v === 'string') return v;
  if (v == null) return '';
  return fail('', (field) => `${field} must be a string`, field);
}

export function bool(v: unknown, field: string): boolean {
  if (typeof v === 'boolean') return v;
  if (v == null) return false;
  return fail(false, (field) => `${field} must be a boolean`, field);
}

interface LongBits {
  low: number;
  high: number;
}

function isLong(v: unknown): v is LongBits {
  return typeof v === 'object' && v !== null && typeof (v as LongBits).low === 'number';
}

const INTEGER = /^-?\d+$/;

const UINT64_MAX = 2n ** 64n - 1n;
const UINT32_MAX = 2 ** 32 - 1;
const INT32_MIN = -(2 ** 31);
const INT32_MAX = 2 ** 31 - 1;

let roundedIntegers = 0;
/**
 * How many integers past 2^53 arrived as JSON numbers so far: JSON.parse rounded them
 * (`"timeUnixNano": 1700000000000000001`), and the request must be parsed again exactly, to keep
 * a 64-bit value or to quote the value sent in a refusal.
 */
export const roundedIntegerCount = (): number => roundedIntegers;

/**
 * int64 / fixed64 / sfixed64 as bigint, without going through a lossy double. A JSON value outside
 * the type's range is refused: written to DuckDB's BIGINT it would wrap to another number.
 */
export function int64(v: unknown, field: string, signed = false): bigint {
  if (isLong(v)) {
    if (v.high === 0) return BigInt(v.low >>> 0);
    const u = (BigInt(v.high >>> 0) << 32n) | BigInt(v.low >>> 0);
    return signed ? BigInt.asIntN(64, u) : u;
  }
  if (v == null) return 0n;
  let n: bigint;
  if (typeof v === 'string' && INTEGER.test(v)) n = BigInt(v);
  else if (typeof v === 'number' && Number.isInteger(v)) {
    if (!Number.isSafeInteger(v)) roundedIntegers++;
    n = BigInt(v);
  } else return fail(0n, (field, v) => `${field} must be an integer, got ${JSON.stringify(v)}`, field, v);
  const [min, max] = signed ? [INT64_MIN, INT64_MAX] : [0n, UINT64_MAX];
  if (n < min || n > max) return fail(0n, (field, min, max, n) => `${field} must be an integer from ${min} to ${max}, got ${n}`, field, min, max, n);
  return n;
}

/** Unix nanoseconds (fixed64), within the BIGINT the store keeps them in. */
export function timeNs(v: unknown, field: string): bigint {
  const ns = int64(v, field);
  if (ns > INT64_MAX) return fail(0n, (field, ns) => `${field} must be at most ${INT64_MAX} (the year 2262), got ${ns}`, field, ns);
  return ns;
}

/**
 * The largest count kept: counts (uint64 / fixed64) are Numbers in the model, exact up to 2^53 − 1.
 * The store's columns are wider (BIGINT, UBIGINT[]), but a larger count would reach them rounded, and
 * 2^63 or more would wrap in BIGINT or, in a UBIGINT[], fail the write of the whole batch.
 */
const MAX_COUNT = Number.MAX_SAFE_INTEGER;

/**
 * A 64-bit count (a histogram's count, bucket counts, zero_count) as a number, refused past
 * MAX_COUNT rather than rounded. Real counts stay far below it.
 */
export function uint(v: unknown, field: string): number {
  return unsigned(v, field, MAX_COUNT, (n) => `${field} must be at most ${MAX_COUNT} (a count is kept exactly only to 2^53 - 1), got ${n}`);
}

/** A uint32 or fixed32 (flags, dropped counts): larger values would wrap in their 32-bit column. */
export function uint32(v: unknown, field: string): number {
  return unsigned(v, field, UINT32_MAX, (n) => `${field} must be an integer from 0 to ${UINT32_MAX}, got ${n}`);
}

function unsigned(v: unknown, field: string, max: number, tooLarge: (n: bigint) => string): number {
  if (typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= max) return v;
  if (v == null) return 0;
  if (isLong(v) && v.high === 0 && v.low >>> 0 <= max) return v.low >>> 0; // protobufjs's fixed64, below 2^32
  let n: bigint | undefined;
  if (typeof v === 'number' && Number.isInteger(v)) {
    // Past 2^53 JSON.parse rounded it: the request is parsed again exactly, so the message names the value sent.
    if (!Number.isSafeInteger(v)) roundedIntegers++;
    if (v >= 0) n = BigInt(v);
  } else if (isLong(v) || typeof v === 'string') n = int64(v, field);
  if (n === undefined || n < 0n) return fail(0, (field, v) => `${field} must be a non-negative integer, got ${JSON.stringify(v)}`, field, v);
  if (n > max) return fail(0, tooLarge, n);
  return Number(n);
}

/** An int32 or sint32 (an exponential histogram's scale and offsets): larger values would wrap in their INTEGER column. */
export function int32(v: unknown, field: string): number {
  let n: number | undefined;
  if (typeof v === 'number' && Number.isInteger(v)) {
    if (!Number.isSafeInteger(v)) roundedIntegers++; // parsed again exactly, for the message
    n = v;
  } else if (v == null) n = 0;
  else if (typeof v === 'string' && INTEGER.test(v)) n = Number(v);
  if (n === undefined) return fail(0, (field, v) => `${field} must be an integer, got ${JSON.stringify(v)}`, field, v);
  if (n < INT32_MIN || n > INT32_MAX) return fail(0, (field, v, n) => `${field} must be an integer from ${INT32_MIN} to ${INT32_MAX}, got ${typeof v === 'string' ? v : n}`, field, v, n);
  return n;
}

/** proto3 JSON writes non-finite doubles as "NaN", "Infinity", "-Infinity". */
export function double(v: unknown, field: string): number {
  if (typeof v === 'number') return v;
  if (v == null) return 0;
  if (typeof v === 'string' && v.trim() !== '') {
    const n = Number(v);
    if (!Number.isNaN(n) || v === 'NaN') return n;
  }
  return fail(0, (field, v) => `${field} must be a number, got ${JSON.stringify(v)}`, field, v);
}

/** An enum as its number, from a number or its proto name; numbers outside 0…`max` are refused. */
export function enumValue(v: unknown, names: Record<string, number>, max: number, field: string): number {
  const n = enumNumber(v, names);
  if (n === undefined || n < 0 || n > max) return fail(0, (field, v) => `${field} ${JSON.stringify(v)} is not a valid value`, field, v);
  return n;
}

/**
 * An open enum as its number, from a number or its proto name. proto3 enums are open: any int32 is
 * a value (a newer SDK's, or a vendor's), and the Collector passes it on as sent, so it is kept;
 * what cannot be one (a number past int32, an unknown name) is refused.
 */
export function openEnumValue(v: unknown, names: Record<string, number>, field: string): number {
  const n = enumNumber(v, names);
  if (n === undefined || n < INT32_MIN || n > INT32_MAX) return fail(0, (field, v) => `${field} ${JSON.stringify(v)} is not a valid value`, field, v);
  return n;
}

function enumNumber(v: unknown, names: Record<string, number>): number | undefined {
  // protobufjs yields the wire's int32; OTLP/JSON a number or the value's name.
  if (typeof v === 'number' && Number.isInteger(v) && !Number.isSafeInteger(v)) roundedIntegers++; // parsed again exactly, for the message
  const n = typeof v === 'number' ? v : v == null ? 0 : typeof v === 'string' && Object.hasOwn(names, v) ? names[v] : undefined;
  return Number.isInteger(n) ? n : undefined;
}

const HEX = /^[0-9a-fA-F]+$/;

function fromBase64(s: string): Buffer | undefined {
  const b = Buffer.from(s, 'base64');
  // Buffer.from skips characters outside the alphabet, so check that it was really base64.
  const unpadded = s.replace(/=+$/, '');
  if (b.toString('base64').replace(/=+$/, '') === unpadded || b.toString('base64url') === unpadded) return b;
  return undefined;
}

/**
 * A trace or span ID as lowercase hex: '' when empty, undefined when malformed. OTLP/JSON says hex,
 * but some exporters send base64 (protobuf's generic JSON mapping); the two differ in length
 * (32/16 hex vs 24/12 base64 chars).
 */
export function idHex(v: unknown, size: number): string | undefined {
  if (v == null) return '';
  if (typeof v === 'string') {
    if (v.length === 0) return '';
    // Hex of the wrong length is malformed, even where it would also read as base64 of `size` bytes
    // (11 hex characters are 8 bytes of unpadded base64): a hex ID is never taken for another one.
    if (HEX.test(v)) return v.length === size * 2 ? v.toLowerCase() : undefined;
    const b = fromBase64(v);
    return b?.length === size ? b.toString('hex') : undefined;
  }
  if (v instanceof Uint8Array) {
    if (v.length === 0) return '';
    if (v.length !== size) return undefined;
    return Buffer.from(v.buffer, v.byteOffset, v.length).toString('hex');
  }
  if (Array.isArray(v) && v.length === 0) return ''; // protobufjs's default for an unset bytes field
  return undefined;
}

/** Why idHex refused a value, for the rejection message. */
export function idProblem(v: unknown, size: number, field: string): string {
  if (typeof v === 'string') {
    return `${field} must be ${size} bytes (${size * 2} hex chars), got ${JSON.stringify(v.length > 48 ? `${v.slice(0, 48)}…` : v)}`;
  }
  if (v instanceof Uint8Array) return `${field} must be ${size} bytes, got ${v.length}`;
  return `${field} must be ${size} bytes, got ${typeof v}`;
}

/** An ID that must be set: the hex, or a thrown reason. All zeros is the W3C "invalid" ID. */
export function requiredId(v: unknown, size: number, field: string): string {
  const id = idHex(v, size);
  if (id === undefined) return fail('', idProblem, v, size, field);
  if (id === '') return fail('', (field) => `${field} is missing`, field);
  if (isZeroId(id)) return fail('', (field) => `${field} is all zeros`, field);
  return id;
}

/** An ID that may be absent: '' for empty (and for all zeros, which means the same), else hex. */
export function optionalId(v: unknown, size: number, field: string): string {
  const id = idHex(v, size);
  if (id === undefined) return fail('', idProblem, v, size, field);
  return isZeroId(id) ? '' : id;
}

function isZeroId(id: string): boolean {
  return id.length > 0 && /^0+$/.test(id);
}

function base64(v: unknown, field: string): string {
  if (v instanceof Uint8Array) return Buffer.from(v.buffer, v.byteOffset, v.length).toString('base64');
  if (typeof v === 'string') {
    // Re-encoded so that JSON senders' base64url or unpadded forms match what protobuf yields.
    const b = v === '' ? Buffer.alloc(0) : fromBase64(v);
    if (b) return b.toString('base64');
    return fail('', (field) => `${field} must be base64`, field);
  }
  if (Array.isArray(v) && v.length === 0) return '';
  return fail('', (field) => `${field} must be bytes`, field);
}

export function anyValue(v: unknown, depth = 0): AnyValue {
  if (depth > MAX_ANY_VALUE_DEPTH) return fail({}, () => `AnyValue nested deeper than ${MAX_ANY_VALUE_DEPTH} levels`);
  const m = msg(v, 'AnyValue');
  // Only the oneof member that is set is an own property, in protobufjs messages and in JSON alike.
  for (const k of Object.keys(m)) {
    const x = m[k];
    if (x == null) continue;
    switch (k) {
      case 'stringValue':
        return { stringValue: str(x, k) };
      case 'boolValue':
        return { boolValue: bool(x, k) };
      case 'intValue':
        return { intValue: int64(x, k, true).toString() };
      case 'doubleValue':
        return { doubleValue: double(x, k) };
      case 'bytesValue':
        return { bytesValue: base64(x, k) };
      case 'arrayValue':
        return { arrayValue: { values: list(msg(x, k).values, 'arrayValue.values').map((e) => anyValue(e, depth + 1)) } };
      case 'kvlistValue':
        return { kvlistValue: { values: keyValues(msg(x, k).values, 'kvlistValue', depth + 1) } };
    }
  }
  return {};
}

// Attribute keys repeat on every item, but the decoder makes a new string for each. Records wait in
// the batch queue long enough to reach V8's old generation, so sharing one string per key makes
// them smaller and cheaper to collect. Bounded: a sender of random keys only empties it.
// Span names are low-cardinality by convention and get the same treatment.
const SHARED_MAX = 4096;

function sharedStrings(): (s: string) => string {
  const cache = new Map<string, string>();
  return (s) => {
    const known = cache.get(s);
    if (known !== undefined) return known;
    if (cache.size >= SHARED_MAX) cache.clear();
    cache.set(s, s);
    return s;
  };
}

const sharedKey = sharedStrings();
/** One string object per distinct span name. */
export const sharedName = sharedStrings();

/** What a list of attributes belongs to, for the message about a bad one: `span attribute "k": …`. */
export type AttributeOwner = 'resource' | 'scope' | 'span' | 'event' | 'link' | 'log' | 'point' | 'exemplar' | 'metric metadata' | 'kvlistValue';

/**
 * Attributes (or a kvlist value's entries, `depth` > 0). An error inside one names its key and
 * owner, e.g. `span attribute "http.status_code": intValue must be …`; the owner and key are only
 * put into words when something is wrong, so the decode pays nothing for them.
 */
export function keyValues(v: unknown, owner: AttributeOwner, depth = 0): KeyValue[] {
  const items = list(v, 'attributes');
  const out = new Array<KeyValue>(items.length);
  let key: string | undefined;
  try {
    for (let i = 0; i < items.length; i++) {
      key = undefined;
      const kv = msg(items[i], 'KeyValue');
      key = sharedKey(str(kv.key, 'key'));
      const value = anyValue(kv.value, depth);
      out[i] = depth === 0 ? sharedPair(key, value) : { key, value };
    }
  } catch (err) {
    const where = depth === 0 ? `${owner} attribute` : owner;
    throw new OtlpDecodeError(`${key === undefined ? where : `${where} ${JSON.stringify(clip(key))}`}: ${reasonOf(err)}`);
  }
  return out;
}

/** A key as a message quotes it: long ones cut, since a kvlist nests 64 deep and each level names its key. */
const clip = (s: string): string => (s.length > 64 ? `${s.slice(0, 64)}…` : s);

// Most attribute pairs repeat from item to item (db.system=postgresql, http.route=/api/cart,
// status codes), and decoded items wait in the batch queue long enough to be promoted to V8's old
// generation: ~1.9 KB a span, most of it attribute objects. Handing out one KeyValue per distinct
// short scalar pair makes a queued span smaller and cheaper to collect. Bounded: a key with more
// than PAIRS_PER_KEY distinct values stops being cached (until the next reset), and the whole cache
// is dropped at PAIRS_MAX. Callers treat records as immutable, so sharing is safe.
const PAIRS_MAX = 16_384;
const PAIRS_PER_KEY = 512;
const MAX_SHARED_VALUE_LENGTH = 64;
const pairs = new Map<string, Map<string, KeyValue> | null>();
let pairCount = 0;

function pairTag(value: AnyValue): string | undefined {
  const v = value as { stringValue?: unknown; intValue?: unknown; boolValue?: unknown };
  if (typeof v.stringValue === 'string') return v.stringValue.length <= MAX_SHARED_VALUE_LENGTH ? `s${v.stringValue}` : undefined;
  if (typeof v.intValue === 'string') return `i${v.intValue}`;
  if (typeof v.boolValue === 'boolean') return v.boolValue ? 'bt' : 'bf';
  return undefined;
}

function sharedPair(key: string, value: AnyValue): KeyValue {
  const tag = pairTag(value);
  if (tag === undefined) return { key, value };
  let values = pairs.get(key);
  if (values === null) return { key, value }; // too many distinct values for this key
  if (values === undefined) {
    if (pairCount >= PAIRS_MAX) {
      pairs.clear();
      pairCount = 0;
    }
    values = new Map();
    pairs.set(key, values);
  }
  const known = values.get(tag);
  if (known !== undefined) return known;
  if (values.size >= PAIRS_PER_KEY) {
    pairCount -= values.size;
    pairs.set(key, null);
    return { key, value };
  }
  const kv = { key, value };
  values.set(tag, kv);
  pairCount++;
  return kv;
}

export function resource(v: unknown, schemaUrl: unknown): Resource {
  const r = msg(v, 'resource');
  return {
    attributes: keyValues(r.attributes, 'resource'),
    droppedAttributesCount: uint32(r.droppedAttributesCount, 'resource.droppedAttributesCount'),
    schemaUrl: str(schemaUrl, 'schemaUrl'),
  };
}

export function scope(v: unknown, schemaUrl: unknown): InstrumentationScope {
  const s = msg(v, 'scope');
  return {
    name: str(s.name, 'scope.name'),
    version: str(s.version, 'scope.version'),
    attributes: keyValues(s.attributes, 'scope'),
    droppedAttributesCount: uint32(s.droppedAttributesCount, 'scope.droppedAttributesCount'),
    schemaUrl: str(schemaUrl, 'schemaUrl'),
  };
}

export interface Rejection {
  /** Where the item sits in the request, e.g. `resourceSpans[0].scopeSpans[1].spans[4]`. */
  item: string;
  reason: string;
}

/** The model records a request held, and the items that were refused (partial success). */
export interface Decoded<T> {
  items: T[];
  /**
   * One entry per refused item: the first DESCRIBED_REJECTIONS say where and why, the rest are
   * UNDESCRIBED_REJECTION (one shared object, so a refused item costs about what a kept one does).
   */
  rejected: Rejection[];
}

export function reasonOf(err: unknown): string {
  if (err instanceof OtlpDecodeError) return err.message;
  // A wrong-typed JSON value deep inside an item (e.g. a number where a message belongs).
  return `malformed: ${err instanceof Error ? err.message : String(err)}`;
}

/** One scope's items of an OTLP request, with the Resource and scope they share. */
export interface ScopeGroup {
  resource: Resource;
  scope: InstrumentationScope;
  items: readonly unknown[];
  /** Where the group sits in the request, for rejection messages: `resourceSpans[0].scopeSpans[1]`. */
  path: string;
}

/**
 * The resource → scope → items walk every signal shares (`resourceSpans` / `scopeSpans` / `spans`
 * and likewise). Each Resource and scope is converted once and shared by its items.
 */
export function scopeGroups(request: Msg, resourcesKey: string, scopesKey: string, itemsKey: string): ScopeGroup[] {
  const groups: ScopeGroup[] = [];
  const resources = list(request[resourcesKey], resourcesKey);
  for (let r = 0; r < resources.length; r++) {
    const rm = msg(resources[r], `${resourcesKey}[]`);
    const res = resource(rm.resource, rm.schemaUrl);
    const scopes = list(rm[scopesKey], scopesKey);
    for (let s = 0; s < scopes.length; s++) {
      const sm = msg(scopes[s], `${scopesKey}[]`);
      groups.push({ resource: res, scope: scope(sm.scope, sm.schemaUrl), items: list(sm[itemsKey], itemsKey), path: `${resourcesKey}[${r}].${scopesKey}[${s}]` });
    }
  }
  return groups;
}
