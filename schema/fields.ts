// Field groups that several types share: attributes in three shapes, and times and durations as
// both a scalar and the numbers Grafana can plot.
import type { ObjectFieldBuilder } from '@pothos/core';
import type { KeyValue } from '../src/model/telemetry.ts';
import { anyValueToPlain, attributesToPlain, findAttribute } from '../src/model/values.ts';
import { epochMs, nsToMs } from '../resolvers/time.ts';
import type { BuilderTypes } from './builder.ts';

type Fields<Shape> = ObjectFieldBuilder<BuilderTypes, Shape>;

const INT32_MAX = 2_147_483_647;

// OTLP's dropped counts (uint32) and flags (fixed32) as GraphQL Int, which is signed 32-bit: a
// valid value past 2^31 − 1 made graphql-js fail the field, nulling the whole page it was in.

/** A dropped count: at most INT32_MAX. */
export function droppedCountField<Shape>(t: Fields<Shape>, get: (parent: Shape) => number) {
  return t.int({ description: 'At most 2147483647 (GraphQL Int); OTLP allows up to 4294967295.', resolve: (p) => Math.min(get(p), INT32_MAX) });
}

/** Flags: bits 0–30 (trace flags are bits 0–7; bit 31 is reserved). */
export function flagsField<Shape>(t: Fields<Shape>, get: (parent: Shape) => number) {
  return t.int({ description: 'OTLP flags, bits 0–30 (GraphQL Int is signed; bit 31 is reserved in OTLP).', resolve: (p) => get(p) & INT32_MAX });
}

/**
 * A measured double as GraphQL can carry it: NaN and ±Infinity are legal OTLP values (a summary
 * without observations has NaN quantiles) but not GraphQL Floats, so they read as null.
 */
export const finiteOrNull = (x: number | null | undefined): number | null => (x != null && Number.isFinite(x) ? x : null);

/** Description of the `labels` argument of metricSeries, metricPoints and tailMetrics (resolvers/metrics.ts labelsArg). */
export const LABELS_ARG =
  'Exact matches on point or resource attributes, e.g. {"service.name": "checkout"}: an object (as a variable), or its JSON text ' +
  '(written inline, where a GraphQL object literal cannot spell a key with dots: labels: "{\\"service.name\\": \\"checkout\\"}"). At most 100 labels.';

/** Description of a Float field that is null when its value is not finite. */
export const NON_FINITE_NULL = 'null when the value is NaN or ±Infinity, which GraphQL cannot carry.';

/** Description of an object of attributes as plain JSON. */
export const PLAIN_ATTRIBUTES =
  'as a plain JSON object (ints as numbers when they are safe integers, at most 2^53 − 1 in magnitude, else as strings; bytes as base64; of duplicate keys the last)';

/** A list of attributes as `[Attribute]`, each with its OTLP type and lossless `otlpValue`, in the order sent. */
export function typedAttributesField<Shape>(t: Fields<Shape>, what: string, get: (parent: Shape) => readonly KeyValue[]) {
  return t.field({
    type: ['Attribute'],
    description: `${what} with their OTLP type, so INT and DOUBLE stay distinguishable; in the order sent, duplicate keys included.`,
    extensions: { recordPart: true }, // query cost: src/server/query-cost.ts
    resolve: (p) => [...get(p)],
  });
}

export function attributeFields<Shape>(t: Fields<Shape>, get: (parent: Shape) => readonly KeyValue[]) {
  return {
    attributes: t.field({
      type: 'JSON',
      description: `Attributes ${PLAIN_ATTRIBUTES}.`,
      resolve: (p) => attributesToPlain(get(p)),
    }),
    typedAttributes: typedAttributesField(t, 'Attributes', get),
    attribute: t.field({
      type: 'JSON',
      nullable: true,
      description: 'One attribute value as plain JSON (as in `attributes`: of duplicate keys the last); null when absent.',
      args: { key: t.arg.string({ required: true }) },
      resolve: (p, { key }) => anyValueToPlain(findAttribute(get(p), key)),
    }),
  };
}

/** `<name>: Timestamp!`, `<name>UnixNano: String!` and `<name>Ms: Float!`. */
export function instantFields<Shape>(t: Fields<Shape>, name: string, get: (parent: Shape) => bigint) {
  return {
    [name]: t.field({ type: 'Timestamp', resolve: get }),
    [`${name}UnixNano`]: t.string({ description: 'Nanoseconds since the Unix epoch, as a decimal string.', resolve: (p) => String(get(p)) }),
    // Whole milliseconds: Grafana's Wild GraphQL reads a numeric time as an integer and fails on
    // a fraction (as most epoch-ms consumers would); the full precision is in <name>UnixNano.
    [`${name}Ms`]: t.float({
      description: 'Milliseconds since the Unix epoch, whole (rounded down), for plotting; `' + name + 'UnixNano` has full precision.',
      resolve: (p) => epochMs(get(p)),
    }),
  };
}

/** `duration: Duration!`, `durationNano: String!` and `durationMs: Float!`. */
export function durationFields<Shape>(t: Fields<Shape>, get: (parent: Shape) => bigint) {
  return {
    duration: t.field({ type: 'Duration', resolve: get }),
    durationNano: t.string({ description: 'Nanoseconds, as a decimal string.', resolve: (p) => String(get(p)) }),
    durationMs: t.float({ description: 'Milliseconds (fractional), for plotting.', resolve: (p) => nsToMs(get(p)) }),
  };
}

