// Per-batch caches for what records share: a batch's records point at a few Resource and scope
// objects, so their JSON text, service name and filter-form attributes are computed once per object.
// Reading does the reverse: equal resource text decodes to one shared object per result.
import type { InstrumentationScope, KeyValue, Resource } from '../../model/telemetry.ts';
import { anyValueToFilterString, serviceName } from '../../model/values.ts';
import { decodeJson, encodeJson } from './json.ts';
import { sharedEntries, type SharedEntries } from './attr-text.ts';

export type FilterMap = Record<string, string | null>;

export interface ResourceInfo {
  json: string;
  service: string;
  attrs: FilterMap;
  /** The resource's attributes as attrs_flat entries, merged under each record's. */
  flat: SharedEntries;
}

export interface EncodeCache {
  resource(r: Resource): ResourceInfo;
  scope(s: InstrumentationScope): string;
}

export function createEncodeCache(): EncodeCache {
  const resources = new Map<Resource, ResourceInfo>();
  const scopes = new Map<InstrumentationScope, string>();
  return {
    resource(r) {
      let info = resources.get(r);
      if (!info) {
        info = { json: encodeJson(r), service: serviceName(r), attrs: toFilterMap(r.attributes, {}), flat: sharedEntries(r.attributes) };
        resources.set(r, info);
      }
      return info;
    },
    scope(s) {
      let json = scopes.get(s);
      if (json === undefined) {
        json = encodeJson(s);
        scopes.set(s, json);
      }
      return json;
    },
  };
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
