// Which optional span parts (SpanPart) a `trace` query's selection needs, so the store reads only
// those: at 1M spans DuckDB's share of a trace lookup shrinks with every wide column it need not
// fetch (bench/README.md, bench:query, 2026-12-02 trace3). Every field of Trace and Span is listed
// below (a test checks the schema against these lists); a field not listed means "read everything",
// so a field added later is correct before it is fast.
import { Kind, type FragmentDefinitionNode, type GraphQLResolveInfo, type SelectionSetNode } from 'graphql';
import type { SpanPart } from '../src/stores/types.ts';

const ALL: readonly SpanPart[] = ['attributes', 'events', 'links', 'resource', 'scope'];

/** The instant and duration fields Span and Trace share (schema/fields.ts): read from the row itself. */
const TIME_FIELDS: Readonly<Record<string, readonly SpanPart[]>> = Object.fromEntries(
  ['startTime', 'startTimeUnixNano', 'startTimeMs', 'endTime', 'endTimeUnixNano', 'endTimeMs', 'duration', 'durationNano', 'durationMs'].map((f) => [f, []]),
);

/**
 * Span fields and the parts they read. parent, children and trace resolve through the whole-trace
 * loader (whole spans), so their own selections need nothing from these spans.
 */
export const SPAN_FIELD_PARTS: Readonly<Record<string, readonly SpanPart[]>> = {
  __typename: [],
  traceId: [],
  spanId: [],
  parentSpanId: [],
  parent: [],
  children: [],
  trace: [],
  name: [],
  kind: [],
  ...TIME_FIELDS,
  status: [],
  traceState: [],
  flags: [],
  droppedAttributesCount: [],
  droppedEventsCount: [],
  droppedLinksCount: [],
  attributes: ['attributes'],
  typedAttributes: ['attributes'],
  attribute: ['attributes'],
  events: ['events'],
  links: ['links'],
  resource: ['resource'],
  service: ['resource'],
  logs: ['resource'], // with a window: the span's service
  metrics: ['resource'], // the span's service
  scope: ['scope'],
};

/** Trace fields: the parts they read themselves, or 'spans' for a field whose value is spans. */
export const TRACE_FIELD_PARTS: Readonly<Record<string, readonly SpanPart[] | 'spans'>> = {
  __typename: [],
  traceId: [],
  spanCount: [],
  errorCount: [],
  ...TIME_FIELDS,
  logs: [],
  services: ['resource'],
  metrics: ['resource'], // every service of the trace
  spans: 'spans',
  span: 'spans',
  rootSpan: 'spans',
};

/**
 * The parts the selection of this `trace` field reads, or null when it needs whole spans (a field
 * not listed above). @skip / @include are ignored: a skipped field still counts as selected.
 */
export function tracePartsOf(info: Pick<GraphQLResolveInfo, 'fieldNodes' | 'fragments'>): ReadonlySet<SpanPart> | null {
  const parts = new Set<SpanPart>();
  const add = (list: readonly SpanPart[]) => list.forEach((p) => parts.add(p));
  for (const node of info.fieldNodes) {
    if (!node.selectionSet) continue;
    for (const [name, selection] of fieldsOf(node.selectionSet, info.fragments)) {
      const entry = TRACE_FIELD_PARTS[name];
      if (entry === undefined) return null;
      if (entry !== 'spans') add(entry);
      else if (selection) {
        for (const [spanField] of fieldsOf(selection, info.fragments)) {
          const needs = SPAN_FIELD_PARTS[spanField];
          if (needs === undefined) return null;
          add(needs);
        }
      }
    }
    if (parts.size === ALL.length) return null;
  }
  return parts;
}

/** Each field of a selection set, fragments spread in, with its own selection set. */
function* fieldsOf(set: SelectionSetNode, fragments: Record<string, FragmentDefinitionNode>): Generator<[string, SelectionSetNode | undefined]> {
  for (const s of set.selections) {
    if (s.kind === Kind.FIELD) yield [s.name.value, s.selectionSet];
    else if (s.kind === Kind.INLINE_FRAGMENT) yield* fieldsOf(s.selectionSet, fragments);
    else {
      const fragment = fragments[s.name.value];
      if (fragment) yield* fieldsOf(fragment.selectionSet, fragments);
    }
  }
}
