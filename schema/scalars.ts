// The custom scalars as plain GraphQLScalarTypes; builder.ts registers them with Pothos.
import { GraphQLError, GraphQLScalarType, Kind, type ValueNode } from 'graphql';
import { formatDuration, formatTimestamp, parseDuration, parseTimestamp } from '../resolvers/time.ts';

function literalValue(node: ValueNode, variables?: { [name: string]: unknown } | null): unknown {
  switch (node.kind) {
    case Kind.STRING:
    case Kind.ENUM:
      return node.value;
    case Kind.BOOLEAN:
      return node.value;
    case Kind.INT:
    case Kind.FLOAT:
      return Number(node.value);
    case Kind.NULL:
      return null;
    case Kind.LIST:
      return node.values.map((v) => literalValue(v, variables));
    case Kind.OBJECT:
      return Object.fromEntries(node.fields.map((f) => [f.name.value, literalValue(f.value, variables)]));
    case Kind.VARIABLE:
      return variables?.[node.name.value];
  }
}

/**
 * A literal parsed by `parse`, its error pointing at the literal: graphql-js reports a GraphQLError
 * from parseLiteral as it is, so without the node it had no `locations` (a variable's had them).
 */
function atLiteral<T>(node: ValueNode, parse: (value: unknown) => T): T {
  try {
    return parse(node.kind === Kind.INT || node.kind === Kind.STRING ? node.value : literalValue(node));
  } catch (err) {
    if (err instanceof GraphQLError && err.nodes === undefined) throw new GraphQLError(err.message, { nodes: node, extensions: err.extensions, originalError: err.originalError });
    throw err;
  }
}

function expectBigint(name: string, value: unknown): bigint {
  if (typeof value !== 'bigint') throw new TypeError(`${name} can only serialize a bigint of nanoseconds, got ${typeof value}`);
  return value;
}

export const TimestampScalar = new GraphQLScalarType<bigint, string>({
  name: 'Timestamp',
  description:
    'An instant with nanosecond precision. Output: ISO 8601 in UTC with nine fraction digits. ' +
    'Input: epoch milliseconds (a number, or a string of up to 13 digits; 10 digits are refused as epoch seconds), ' +
    'epoch nanoseconds (a string of 18–19 digits; 16 digits are refused as epoch microseconds, which Jaeger\'s API uses), ' +
    'ISO 8601 with an offset, e.g. "2026-01-02T03:04:05.123456789Z" (a date alone, "2026-01-02", is midnight UTC), or relative to now as Grafana writes it: "now", "now-15m".',
  serialize: (value) => formatTimestamp(expectBigint('Timestamp', value)),
  parseValue: (value) => parseTimestamp(value),
  // Literal integers keep all their digits: a number would round nanoseconds away.
  parseLiteral: (node) => atLiteral(node, parseTimestamp),
});

export const DurationScalar = new GraphQLScalarType<bigint, string>({
  name: 'Duration',
  description:
    'A length of time with nanosecond precision. Output: e.g. "20ns", "1.234ms", "1h30m". ' +
    'Input: a number of milliseconds, or units ns, us, ms, s, m, h, d, w (7 days), y (365 days) that may be combined and have fractions: "250ms", "1.5s", "1h30m".',
  serialize: (value) => formatDuration(expectBigint('Duration', value)),
  parseValue: (value) => parseDuration(value),
  parseLiteral: (node) => atLiteral(node, parseDuration),
});

export const JSONScalar = new GraphQLScalarType<unknown, unknown>({
  name: 'JSON',
  description: 'Any JSON value.',
  serialize: (value) => value,
  parseValue: (value) => value,
  parseLiteral: (node, variables) => literalValue(node, variables),
});
