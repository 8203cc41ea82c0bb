// Subscriptions run their selection once per event for as long as they live (a thousand tails at
// 10,000 spans/s: 10,000 executions a second), so each event's selection runs compiled by
// graphql-jit: one compilation per document, shared by every subscriber of that document (Yoga's
// parse cache hands them the same DocumentNode). Queries and mutations run once each, so compiling
// would cost more than it saves; they keep graphql-tools' executor.
//
// Only the per-event execution is compiled. The subscription itself (the root field's arguments,
// its subscribe resolver, its errors) is set up by graphql-js' createSourceEventStream as before:
// graphql-jit's own subscribe passes the operation's variables as the root field's arguments, so
// `tailSpans(filter: { service: $s })` would see `{ s }` and no filter.
//
// graphql-jit cannot compile variables of a recursive input type (TelemetryFilter has and/or/not:
// its coercion code recurses until the stack overflows, after ~50 s of CPU), which is how
// `teleql tail` and most clients send their filter. So what is compiled is the document without
// the root field's arguments that use such variables, and without those variables: the arguments
// were applied when the subscription was set up, and the root field's resolver only passes the
// event on. A document whose selection itself uses such a variable runs on the ordinary executor. Not @envelop/graphql-jit: it answers with the compilation error when a
// document cannot be compiled.
import {
  Kind,
  createSourceEventStream,
  getNamedType,
  getOperationAST,
  isInputObjectType,
  typeFromAST,
  visit,
  type ASTNode,
  type DocumentNode,
  type ExecutionArgs,
  type ExecutionResult,
  type FieldNode,
  type GraphQLInputObjectType,
  type GraphQLSchema,
  type OperationDefinitionNode,
} from 'graphql';
import { compileQuery, isCompiledQuery, type CompiledQuery } from 'graphql-jit';
import type { Plugin } from 'graphql-yoga';

type Subscribe = (args: ExecutionArgs) => Promise<AsyncIterableIterator<ExecutionResult> | ExecutionResult>;

/** Whether the input type can contain itself (directly or through other input types). */
function recursive(type: GraphQLInputObjectType, path = new Set<GraphQLInputObjectType>()): boolean {
  if (path.has(type)) return true;
  path.add(type);
  for (const field of Object.values(type.getFields())) {
    const named = getNamedType(field.type);
    if (isInputObjectType(named) && recursive(named, path)) return true;
  }
  path.delete(type);
  return false;
}

/** Variables of the operation whose type is (or holds) a recursive input type. */
function recursiveVariables(schema: GraphQLSchema, operation: OperationDefinitionNode): Set<string> {
  const names = new Set<string>();
  for (const v of operation.variableDefinitions ?? []) {
    const named = getNamedType(typeFromAST(schema, v.type as Parameters<typeof typeFromAST>[1]));
    if (isInputObjectType(named) && recursive(named)) names.add(v.variable.name.value);
  }
  return names;
}

function variablesIn(node: ASTNode): Set<string> {
  const used = new Set<string>();
  visit(node, { Variable: (v) => void used.add(v.name.value) });
  return used;
}

/**
 * The document each event runs: the root field without the arguments that use a recursive-input
 * variable, and only the variable definitions still used. Undefined when the selection itself uses
 * such a variable (graphql-jit could not compile it).
 */
export function perEventDocument(schema: GraphQLSchema, document: DocumentNode, operation: OperationDefinitionNode): DocumentNode | undefined {
  const recursiveVars = recursiveVariables(schema, operation);
  const [root, ...rest] = operation.selectionSet.selections;
  if (root?.kind !== Kind.FIELD || rest.length > 0) return undefined; // not a valid subscription: graphql-js reports it
  const usesRecursive = (node: ASTNode) => [...variablesIn(node)].some((name) => recursiveVars.has(name));
  const field: FieldNode = { ...root, arguments: (root.arguments ?? []).filter((a) => !usesRecursive(a)) };
  const fragments = document.definitions.filter((d) => d.kind === Kind.FRAGMENT_DEFINITION);
  const selectionSet = { ...operation.selectionSet, selections: [field] };
  if ([selectionSet, ...fragments].some(usesRecursive)) return undefined;
  const used = new Set([selectionSet, ...fragments].flatMap((node) => [...variablesIn(node)]));
  const pruned: OperationDefinitionNode = {
    ...operation,
    selectionSet,
    variableDefinitions: (operation.variableDefinitions ?? []).filter((v) => used.has(v.variable.name.value)),
  };
  return { ...document, definitions: [pruned, ...fragments] };
}

/** The stream with each event run through `execute`, one promise per event at most. */
function mapEvents(stream: AsyncIterable<unknown>, execute: (event: unknown) => ExecutionResult | Promise<ExecutionResult>): AsyncIterableIterator<ExecutionResult> {
  const it = stream[Symbol.asyncIterator]();
  const mapped: AsyncIterableIterator<ExecutionResult> = {
    next: () =>
      it.next().then((r): IteratorResult<ExecutionResult> | Promise<IteratorResult<ExecutionResult>> => {
        if (r.done) return { value: undefined, done: true };
        const result = execute(r.value);
        return result instanceof Promise ? result.then((value) => ({ value, done: false })) : { value: result, done: false };
      }),
    return: async () => {
      await it.return?.();
      return { value: undefined, done: true };
    },
    throw: async (err: unknown) => {
      await it.throw?.(err);
      throw err instanceof Error ? err : new Error(String(err));
    },
    [Symbol.asyncIterator]: () => mapped,
  };
  return mapped;
}

function compiledSubscribe(query: CompiledQuery): Subscribe {
  return async (args) => {
    const stream = await createSourceEventStream(args);
    if (!(Symbol.asyncIterator in stream)) return stream;
    return mapEvents(stream, (event) => query.query(event, args.contextValue, args.variableValues));
  };
}

/** With `enabled` false (tail.compiled), every event runs on the ordinary executor. */
export function compiledSubscriptionsPlugin(enabled = true): Plugin {
  // null: this document is not compiled; the ordinary executor runs it.
  const compiled = new WeakMap<DocumentNode, Subscribe | null>();
  return {
    onSubscribe({ args, setSubscribeFn }) {
      let subscribe = compiled.get(args.document);
      if (subscribe === undefined) {
        subscribe = null;
        const operation = getOperationAST(args.document, args.operationName);
        const perEvent = enabled && operation?.operation === 'subscription' ? perEventDocument(args.schema, args.document, operation) : undefined;
        if (perEvent) {
          try {
            const result = compileQuery(args.schema, perEvent, args.operationName ?? undefined);
            if (isCompiledQuery(result)) subscribe = compiledSubscribe(result);
          } catch {
            // graphql-jit does not support something in it: the ordinary executor does.
          }
        }
        compiled.set(args.document, subscribe);
      }
      if (subscribe) setSubscribeFn(subscribe as Parameters<typeof setSubscribeFn>[0]);
    },
  };
}
