import type { BackendStatus } from '../src/backends/status.ts';
import { backends, toUnixNano } from '../resolvers/backends.ts';
import { builder } from './builder.ts';

export const BackendRoleEnum = builder.enumType('BackendRole', {
  description: 'WRITE: a pipeline exports to it. READ: queries of its signal are answered from it.',
  values: ['WRITE', 'READ'] as const,
});

const BackendRef = builder.objectRef<BackendStatus>('Backend');

BackendRef.implement({
  description: 'A backend the gateway writes to or reads from, with its health and delivery figures.',
  fields: (t) => ({
    id: t.exposeString('id', { description: 'The exporter or read source id, e.g. `jaeger/traces`.' }),
    kind: t.exposeString('kind', { description: 'duckdb, jaeger, prometheus, elasticsearch…' }),
    signal: t.exposeString('signal'),
    roles: t.field({ type: [BackendRoleEnum], resolve: (b) => b.roles }),
    endpoint: t.exposeString('endpoint', { description: 'Where it writes or reads (no credentials).' }),
    healthy: t.exposeBoolean('healthy', { description: 'The last request to it succeeded (or none failed yet).' }),
    lastError: t.exposeString('lastError', { nullable: true }),
    lastErrorAt: t.field({ type: 'Timestamp', nullable: true, resolve: (b) => toUnixNano(b.lastErrorAt) }),
    queueDepth: t.exposeInt('queueDepth', { description: 'Items waiting to be written, in memory and in the spill.' }),
    itemsWritten: t.field({ type: 'Float', description: 'Items the backend accepted since start.', resolve: (b) => b.itemsWritten }),
    itemsFailed: t.field({ type: 'Float', description: 'Items the backend refused for good.', resolve: (b) => b.itemsFailed }),
    spilled: t.exposeInt('spilled', { description: 'Items waiting in the on-disk spill (kept across restarts).' }),
    dropped: t.field({ type: 'Float', description: 'Items dropped because the queue or the spill was full.', resolve: (b) => b.dropped }),
    retries: t.field({ type: 'Float', description: 'Send attempts retried.', resolve: (b) => b.retries }),
  }),
});

builder.queryFields((t) => ({
  backends: t.field({
    nullable: true,
    type: [BackendRef],
    description:
      'Every backend with its role(s) and health; the same figures are on /metrics as teleql_exporter_*. ' +
      'Gateway-wide (figures of every tenant), so it needs the metrics scope, the operator\'s (GW_FORBIDDEN otherwise; a tenant\'s admin has it only with auth.metrics: admin).',
    args: { role: t.arg({ type: BackendRoleEnum }), kind: t.arg.string() },
    resolve: (_, args, ctx) => backends(ctx, args),
  }),
}));
