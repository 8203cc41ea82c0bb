// Refuses input values nested deeper than MAX_INPUT_DEPTH, or variables holding more than
// MAX_INPUT_VALUES values, before graphql-js coerces them. Its
// coercion (and the executor's snapshot of the variables) recurses once per level: a filter of
// 1,500 nested `and`s, 15 KB of variables, overflowed the stack and was masked as "Unexpected
// error." (HTTP 500; graphql-ws INTERNAL_SERVER_ERROR) (fuzz QA). The check runs in onExecute and
// onSubscribe, ahead of the other plugins' hooks, so it covers HTTP, SSE and graphql-ws alike; it
// walks no further than the limit, so it cannot overflow itself. Inline values are checked too,
// though limits.graphql.maxTokens keeps them far shallower by default.
import { Kind, visit, type DocumentNode } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { GatewayError } from '../errors.ts';

/**
 * Levels of objects and lists an input value may have. The deepest value the schema needs is a
 * TelemetryFilter: an `and`/`or` level is two (the list, then the object), so 64 allows 31 levels
 * of boolean nesting, more than any hand-written or generated filter we have seen.
 */
export const MAX_INPUT_DEPTH = 64;

/**
 * Values (list items and object fields, at every level) all of an operation's variables may hold.
 * The largest input the schema takes is a filter at its term limit (resolvers/filter.ts: 10,000
 * terms, a few values each); past this the request is refused before graphql-js coerces it and a
 * resolver counts it: 600,000 labels or 1.5 million services (12–14 MB, within maxBodyBytes) held
 * the loop 2–5 s and kept ~190 MB before their own limits refused them (bigquery QA).
 */
export const MAX_INPUT_VALUES = 100_000;

/** The walk of one operation's variables: how many values it has seen so far, for MAX_INPUT_VALUES. */
interface Walk {
  values: number;
}

/**
 * How deep `value` nests objects and arrays, counted up to `limit + 1`; it stops looking there, or
 * once `walk` has counted more than MAX_INPUT_VALUES values (then the count says so).
 */
function depthOf(value: unknown, limit: number, walk: Walk): number {
  if (typeof value !== 'object' || value === null) return 0;
  if (limit < 0) return 1;
  let deepest = 0;
  const visit = (v: unknown): boolean => {
    if (++walk.values > MAX_INPUT_VALUES) return false;
    deepest = Math.max(deepest, depthOf(v, limit - 1, walk));
    return deepest <= limit && walk.values <= MAX_INPUT_VALUES;
  };
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) if (!visit(value[i])) break;
  } else {
    // for…in rather than Object.values: no array of every value is made before the count stops.
    for (const key in value) if (Object.hasOwn(value, key) && !visit((value as Record<string, unknown>)[key])) break;
  }
  return 1 + deepest;
}

// A document's literals do not change: Yoga's parse cache hands every request of one text the same
// DocumentNode, so the walk is made once per document, not once per request.
const literalDepths = new WeakMap<DocumentNode, number>();

/** The deepest object or list literal in the document (graphql-js `visit` keeps its own stack). */
function literalDepth(document: DocumentNode): number {
  let known = literalDepths.get(document);
  if (known === undefined) literalDepths.set(document, (known = walkLiteralDepth(document)));
  return known;
}

function walkLiteralDepth(document: DocumentNode): number {
  let depth = 0;
  let deepest = 0;
  visit(document, {
    enter(node) {
      if (node.kind === Kind.OBJECT || node.kind === Kind.LIST) deepest = Math.max(deepest, ++depth);
    },
    leave(node) {
      if (node.kind === Kind.OBJECT || node.kind === Kind.LIST) depth--;
    },
  });
  return deepest;
}

function tooDeep(what: string): GatewayError {
  return new GatewayError(
    'GW_QUERY_TOO_LARGE',
    `${what} nests objects and lists more than ${MAX_INPUT_DEPTH} levels deep; input values may nest at most ${MAX_INPUT_DEPTH} levels`,
    // `spec: false`: Yoga keeps this status under application/json too (as the other query limits).
    { http: { status: 400, spec: false } },
  );
}

function tooMany(name: string): GatewayError {
  return new GatewayError(
    'GW_QUERY_TOO_LARGE',
    `the variables hold more than ${MAX_INPUT_VALUES} values (list items and object fields, counted at every level) by variable $${name}; ` +
      `an operation's variables may hold at most ${MAX_INPUT_VALUES}`,
    { http: { status: 400, spec: false } },
  );
}

/** The refusal for an operation's variables or inline values, or undefined when they fit. */
export function checkInputDepth(document: DocumentNode, variables: unknown): GatewayError | undefined {
  if (typeof variables === 'object' && variables !== null) {
    const walk: Walk = { values: 0 };
    for (const name in variables) {
      if (!Object.hasOwn(variables, name)) continue;
      if (depthOf((variables as Record<string, unknown>)[name], MAX_INPUT_DEPTH, walk) > MAX_INPUT_DEPTH) return tooDeep(`variable $${name}`);
      if (walk.values > MAX_INPUT_VALUES) return tooMany(name);
    }
  }
  return literalDepth(document) > MAX_INPUT_DEPTH ? tooDeep('an argument value in the query text') : undefined;
}

export const inputDepthPlugin: Plugin = {
  onExecute({ args, setResultAndStopExecution }) {
    const refusal = checkInputDepth(args.document, args.variableValues);
    if (refusal) setResultAndStopExecution({ errors: [refusal] });
  },
  onSubscribe({ args, setResultAndStopExecution }) {
    const refusal = checkInputDepth(args.document, args.variableValues);
    if (refusal) setResultAndStopExecution({ errors: [refusal] });
  },
};
