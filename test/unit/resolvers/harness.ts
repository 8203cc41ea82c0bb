// Runs GraphQL documents on the real schema against a real in-memory DuckDB store loaded with the
// fixture. Store calls are counted by a pass-through wrapper, so batching can be checked.
import { execute, parse, validate, type DocumentNode, type ExecutionResult } from 'graphql';
import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { schema } from '../../../schema/index.ts';
import { createContextFactory, type Stores } from '../../../resolvers/context.ts';
import { silentLogger } from '../../../src/logger.ts';
import { openDuckDbStore, type DuckDbStore } from '../../../src/stores/duckdb/index.ts';
import { logs, metricPoints, otherTenantSpans, spans, TENANT } from './telemetry-fixture.ts';
import { withRequestClock } from '../../../src/server/request-clock.ts';

export interface Harness {
  /** Store method calls since the last `calls.clear()`, keyed like `logs.logsForSpans`. */
  calls: Map<string, number>;
  run<R = Record<string, unknown>, V = Record<string, unknown>>(
    document: string | TypedDocumentNode<R, V>,
    variables?: V,
    tenant?: string,
  ): Promise<ExecutionResult<R>>;
  close(): Promise<void>;
}

function counted<T extends object>(name: string, target: T, calls: Map<string, number>): T {
  return new Proxy(target, {
    get(t, prop) {
      const value: unknown = Reflect.get(t, prop);
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        const key = `${name}.${String(prop)}`;
        calls.set(key, (calls.get(key) ?? 0) + 1);
        return (value as (...a: unknown[]) => unknown).apply(t, args);
      };
    },
  });
}

export function harnessFor(store: Pick<DuckDbStore, 'traces' | 'logs' | 'metrics' | 'catalog'> & Partial<Pick<DuckDbStore, 'correlation'>>): Harness {
  const calls = new Map<string, number>();
  const stores: Stores = {
    traces: counted('traces', store.traces, calls),
    logs: counted('logs', store.logs, calls),
    metrics: counted('metrics', store.metrics, calls),
    catalog: counted('catalog', store.catalog, calls),
    ...(store.correlation && {
      correlation: {
        red: counted('red', store.correlation.red, calls),
        serviceGraph: counted('serviceGraph', store.correlation.serviceGraph, calls),
        exceptions: counted('exceptions', store.correlation.exceptions, calls),
        ...(store.correlation.logWindows && { logWindows: counted('logWindows', store.correlation.logWindows, calls) }),
      },
    }),
  };
  const contextFor = createContextFactory(stores);
  return {
    calls,
    // One clock per request, as the server gives each (relative Timestamps read one now).
    run: (document, variables, tenant = TENANT) => withRequestClock(async () => {
      const doc: DocumentNode = typeof document === 'string' ? parse(document) : document;
      // Validation first, as a server does: literal scalar errors surface here.
      const errors = validate(schema, doc);
      if (errors.length > 0) return { errors };
      const result = await execute({
        schema,
        document: doc,
        variableValues: variables as Record<string, unknown> | undefined,
        contextValue: contextFor(tenant),
      });
      // What a client gets over the wire: plain objects, errors as {message, path, extensions}.
      return JSON.parse(JSON.stringify(result)) as ExecutionResult<never>;
    }),
    close: async () => {},
  };
}

export async function openHarness(): Promise<Harness> {
  const store = await openDuckDbStore({ path: ':memory:', logger: silentLogger() });
  await store.writer.writeSpans([...spans, ...otherTenantSpans]);
  await store.writer.writeLogs(logs);
  await store.writer.writeMetrics(metricPoints);
  return { ...harnessFor(store), close: () => store.close() };
}

/** The codes of a result's errors, for compact assertions. */
export function errorCodes(result: ExecutionResult<unknown>): unknown[] {
  return (result.errors ?? []).map((e) => e.extensions?.code);
}
