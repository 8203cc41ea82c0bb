// Queries run compiled by graphql-jit once their document has run before: a dashboard or client
// sends the same few documents over and over (trace by ID, searches), and graphql-js' executor
// re-walks the document, its fields and their arguments on every request (bench/README.md,
// bench:query, session 9). A document's first execution runs on the ordinary executor, so a
// one-off query never pays for a compilation it would not use.
//
// What stays the ordinary executor's: mutations (rare; run once each), subscriptions
// (compiled-subscriptions.ts), documents graphql-jit cannot compile, and operations with a variable
// of a recursive input type (TelemetryFilter: graphql-jit's coercion of such variables recurses
// until the stack overflows, see compiled-subscriptions.ts). Errors keep their shape: graphql-jit's
// located errors carry the resolver's error as originalError (and its extensions), so Yoga masks
// them as before, and are rebuilt as graphql-js errors with their source positions (Yoga re-creates
// each error from those when it serializes it, and graphql-jit's have only line and column). A
// request whose variables do not coerce runs on graphql-js (nothing has run yet): its errors name
// the variable's location and the answer is HTTP 400, as before. The deadline, cost and notes
// plugins see the same execution arguments and results.
import { GraphQLError, getOperationAST, type ExecutionArgs, type ExecutionResult, type SourceLocation, type Source } from 'graphql';
import { compileQuery, isCompiledQuery, type CompiledQuery } from 'graphql-jit';
import type { Plugin } from 'graphql-yoga';
import { defaultLimitsConfig } from '../config/security.ts';
import { recursiveVariables } from './compiled-subscriptions.ts';
import { compiledDocumentCache, compiledDocumentChars } from './document-cache.ts';

/** Per operation name: 1 = ran once (on the ordinary executor); null = not compiled, the ordinary executor runs it. */
type Entry = CompiledQuery | null | 1;

function compile(args: ExecutionArgs): CompiledQuery | null {
  const operation = getOperationAST(args.document, args.operationName);
  if (operation?.operation !== 'query' || recursiveVariables(args.schema, operation).size > 0) return null;
  try {
    const result = compileQuery(args.schema, args.document, args.operationName ?? undefined);
    return isCompiledQuery(result) ? result : null;
  } catch {
    return null; // something graphql-jit does not support: the ordinary executor runs it
  }
}

/** The offset in `body` of a 1-based line and column, lines ending as graphql-js counts them. */
function positionOf(body: string, { line, column }: SourceLocation): number {
  let start = 0;
  const ends = /\r\n|[\n\r]/g;
  for (let l = 1; l < line; l++) {
    if (!ends.exec(body)) break;
    start = ends.lastIndex;
  }
  return start + column - 1;
}

function asGraphQLError(err: GraphQLError, source: Source | undefined): GraphQLError {
  const positions = source && err.locations?.map((l) => positionOf(source.body, l));
  return new GraphQLError(err.message, {
    ...(positions?.length && { source, positions }),
    path: err.path,
    originalError: err.originalError,
    extensions: err.extensions,
  });
}

function answer(result: ExecutionResult, source: Source | undefined): ExecutionResult {
  return result.errors ? { ...result, errors: result.errors.map((e) => asGraphQLError(e, source)) } : result;
}

/**
 * With `enabled` false (graphql.compiledQueries), every query runs on the ordinary executor.
 * Compiled queries are kept per document text and operation name, up to `cacheChars` of text
 * (compiledDocumentChars).
 */
export function compiledQueriesPlugin(enabled = true, cacheChars = compiledDocumentChars(defaultLimitsConfig().graphql.documentCacheBytes)): Plugin {
  const byDocument = compiledDocumentCache<Map<string, Entry>>(cacheChars);
  return {
    onExecute({ args, executeFn, setExecuteFn }) {
      if (!enabled) return;
      let entries = byDocument.get(args.document);
      if (!entries) byDocument.set(args.document, (entries = new Map()));
      const name = args.operationName ?? '';
      const entry = entries.get(name);
      if (entry === null) return;
      if (entry === undefined) {
        entries.set(name, 1); // first run: the ordinary executor
        return;
      }
      const compiled = entry === 1 ? compile(args) : entry;
      if (entry === 1) entries.set(name, compiled);
      if (!compiled) return;
      const source = args.document.loc?.source;
      setExecuteFn(((a: ExecutionArgs) => {
        const result = compiled.query(a.rootValue, a.contextValue, a.variableValues);
        // No data: the variables did not coerce and nothing ran.
        const settled = (r: ExecutionResult) => (r.data === undefined ? executeFn(a) : answer(r, source));
        return result instanceof Promise ? result.then(settled) : settled(result);
      }) as Parameters<typeof setExecuteFn>[0]);
    },
  };
}
