// Refuses input values nested deeper than MAX_INPUT_DEPTH before graphql-js coerces them. Its
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

/** How deep `value` nests objects and arrays, counted up to `limit + 1` (then it stops looking). */
function depthOf(value: unknown, limit: number): number {
  if (typeof value !== 'object' || value === null) return 0;
  if (limit < 0) return 1;
  let deepest = 0;
  for (const v of Array.isArray(value) ? value : Object.values(value)) {
    deepest = Math.max(deepest, depthOf(v, limit - 1));
    if (deepest > limit) break;
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

/** The refusal for an operation's variables or inline values, or undefined when they fit. */
export function checkInputDepth(document: DocumentNode, variables: unknown): GatewayError | undefined {
  if (typeof variables === 'object' && variables !== null) {
    for (const [name, value] of Object.entries(variables)) {
      if (depthOf(value, MAX_INPUT_DEPTH) > MAX_INPUT_DEPTH) return tooDeep(`variable $${name}`);
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
