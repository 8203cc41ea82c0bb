// Caches for what records share. A batch's records point at a few Resource and scope objects, so
// their JSON text, id (parts.ts), service name and filter-form attributes are computed once per
// object; and equal content arriving as separate objects (a sender that repeats the resource on every
// span, or the same service in every batch) is computed once per process: the JSON text is the key,
// so only the stringify is paid again. Reading does the reverse: equal resource text decodes to one
// shared object per result.
import { LRUCache } from 'lru-cache';
import type { InstrumentationScope, KeyValue, Resource } from '../../model/telemetry.ts';
import { anyValueToFilterString, serviceName } from '../../model/values.ts';
import { decodeJson, encodeJson } from './json.ts';
import { attrText, NO_SHARED_ENTRIES, sharedEntries, type SharedEntries } from './attr-text.ts';
import { MAX_STORED_CHARS, storedColumns, storedText } from './long-values.ts';
import { partId } from './parts.ts';

export type FilterMap = Record<string, string | null>;

export interface ResourceInfo {
  json: string;
  /**
   * What the store keeps: `json`, or its copy with the longest values cut and, when its attributes
   * do not fit even so, the last ones dropped and counted in its droppedAttributesCount (long-values.ts).
   */
  stored: string;
  /** partId(json): the key of its row in the resources table. */
  id: bigint;
  service: string;
  attrs: FilterMap;
  /** The resource's attributes as attrs_flat entries (for telemetry_source: record over resource), as stored. */
  flat: SharedEntries;
  /** Its attributes' attr-text (the resources table's attrs_flat): those `stored` keeps, as it keeps them. */
  text: string;
}

export interface ScopeInfo {
  json: string;
  /** What the store keeps: `json`, or its copy cut as a resource's is. */
  stored: string;
  id: bigint;
}

export interface EncodeCache {
  resource(r: Resource): ResourceInfo;
  scope(s: InstrumentationScope): ScopeInfo;
}

// Content-derived only (no tenant), read-only once built: safe to share across batches and tenants.
// Usually entries of a few hundred bytes; a sender making every resource unique only churns it. Bounded
// by JSON size too: without a limits processor an attribute may be megabytes, and 200 unique 1 MB
// resources held 600 MB when only the entries were counted (an info is ~3 times its JSON).
const PROCESS_ENTRIES = 10_000;
const PROCESS_JSON_CHARS = 16 * 1024 * 1024;
const jsonBounded = <I extends object>() => new LRUCache<string, I>({ max: PROCESS_ENTRIES, maxSize: PROCESS_JSON_CHARS, sizeCalculation: (_info, json) => Math.max(1, json.length) });
const resourcesByJson = jsonBounded<ResourceInfo>();
const scopesByJson = jsonBounded<ScopeInfo>();

type Part = Resource | InstrumentationScope;

/**
 * A resource's or scope's JSON (texts[0]) and attributes' attr-text (texts[1]) as stored, from the
 * same attributes: all of them with long values cut, or the first ones, the rest counted in the
 * stored droppedAttributesCount (long-values.ts storedList). Keys are never cut.
 */
function storedPart(part: Part, json: string) {
  const withAttrs = (a: readonly KeyValue[]): Part => ({ ...part, attributes: a as KeyValue[], droppedAttributesCount: part.droppedAttributesCount + part.attributes.length - a.length });
  const kept = storedColumns(part.attributes, [(a) => (a === part.attributes ? json : encodeJson(withAttrs(a))), (a) => attrText(a, NO_SHARED_ENTRIES)]);
  // Only a part whose own strings (a scope's name, a schema URL) are too long is still over: those are cut.
  const stored = kept.texts[0]!.length <= MAX_STORED_CHARS ? kept.texts[0]! : storedText(withAttrs(kept.items), encodeJson);
  return { stored, text: kept.texts[1]!, attributes: kept.items };
}

const resourceInfo = (r: Resource, json: string): ResourceInfo => {
  const { stored, text, attributes } = storedPart(r, json);
  return { json, stored, id: partId(json), service: serviceName(r), attrs: toFilterMap(r.attributes, {}), flat: sharedEntries(attributes), text };
};
const scopeInfo = (s: InstrumentationScope, json: string): ScopeInfo => ({ json, stored: storedPart(s, json).stored, id: partId(json) });

/** Looks a part up by object (a batch's records share theirs), then by content, building it once. */
function partCache<P extends object, I extends object>(byJson: LRUCache<string, I>, build: (part: P, json: string) => I): (part: P) => I {
  const byObject = new Map<P, I>();
  return (part) => {
    let info = byObject.get(part);
    if (info === undefined) {
      const json = encodeJson(part);
      info = byJson.get(json);
      if (info === undefined) {
        info = build(part, json);
        byJson.set(json, info);
      }
      byObject.set(part, info);
    }
    return info;
  };
}

/** One batch's cache. */
export function createEncodeCache(): EncodeCache {
  return { resource: partCache(resourcesByJson, resourceInfo), scope: partCache(scopesByJson, scopeInfo) };
}

function setKey(into: FilterMap, key: string, value: string | null): void {
  // A plain assignment to "__proto__" would set the prototype instead of a key.
  if (key === '__proto__') Object.defineProperty(into, key, { value, enumerable: true, writable: true, configurable: true });
  else into[key] = value;
}

/** Adds attrs to `into` in filter-string form, later keys winning. */
export function toFilterMap(attrs: readonly KeyValue[], into: FilterMap): FilterMap {
  for (const kv of attrs) setKey(into, kv.key, anyValueToFilterString(kv.value));
  return into;
}

/** Record attributes merged over resource attributes. */
export function mergedAttrs(resource: ResourceInfo, attrs: readonly KeyValue[]): FilterMap {
  // Record keys first, then the resource's missing ones: every record of an instrumentation then
  // gets objects of one shape, which is several times faster than copying the resource's first.
  const out = toFilterMap(attrs, {});
  for (const key of Object.keys(resource.attrs)) if (!Object.hasOwn(out, key)) setKey(out, key, resource.attrs[key]!);
  return out;
}

export function nullIfEmpty(s: string): string | null {
  return s === '' ? null : s;
}

/** Resources and scopes kept as text on the row (metric points). */
export interface DecodeCache {
  resource(text: string): Resource;
  scope(text: string): InstrumentationScope;
}

export function createDecodeCache(): DecodeCache {
  const seen = new Map<string, unknown>();
  function get<T>(text: string): T {
    let v = seen.get(text);
    if (v === undefined) {
      v = decodeJson<T>(text);
      seen.set(text, v);
    }
    return v as T;
  }
  return { resource: (t) => get<Resource>(t), scope: (t) => get<InstrumentationScope>(t) };
}

export function decodeAttributes(text: unknown): KeyValue[] {
  return typeof text === 'string' ? decodeJson<KeyValue[]>(text) : [];
}
