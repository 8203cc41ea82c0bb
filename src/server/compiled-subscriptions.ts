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
// Not @envelop/graphql-jit: when graphql-jit cannot compile a document it answers every request
// with the compilation error. graphql-jit cannot compile variables of a recursive input type
// (TelemetryFilter has and/or/not: its variable coercion code recurses until the stack overflows,
// after ~50 s of CPU), so a document with such a variable (`$filter: TelemetryFilter`, as the CLI
// sends) is not even tried: the ordinary executor runs it. Inline filters compile.
import { createSourceEventStream, getNamedType, getOperationAST, isInputObjectType, typeFromAST, type DocumentNode, type ExecutionArgs, type ExecutionResult, type GraphQLInputObjectType, type GraphQLSchema, type OperationDefinitionNode } from 'graphql';
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

function hasRecursiveVariable(schema: GraphQLSchema, operation: OperationDefinitionNode): boolean {
  return (operation.variableDefinitions ?? []).some((v) => {
    const named = getNamedType(typeFromAST(schema, v.type as Parameters<typeof typeFromAST>[1]));
    return isInputObjectType(named) && recursive(named);
  });
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

export function compiledSubscriptionsPlugin(): Plugin {
  // null: this document is not compiled; the ordinary executor runs it.
  const compiled = new WeakMap<DocumentNode, Subscribe | null>();
  return {
    onSubscribe({ args, setSubscribeFn }) {
      let subscribe = compiled.get(args.document);
      if (subscribe === undefined) {
        subscribe = null;
        const operation = getOperationAST(args.document, args.operationName);
        if (operation?.operation === 'subscription' && !hasRecursiveVariable(args.schema, operation)) {
          try {
            const result = compileQuery(args.schema, args.document, args.operationName ?? undefined);
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
