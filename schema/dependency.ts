import type { DependencyLink } from '../src/stores/dependencies.ts';
import { serviceDependencies } from '../resolvers/dependencies.ts';
import { builder } from './builder.ts';

const DependencyRef = builder.objectRef<DependencyLink>('ServiceDependency');

DependencyRef.implement({
  description: 'Calls from one service to another in a time range (a span of `child` in the range whose parent span is in `parent`).',
  fields: (t) => ({
    parent: t.exposeString('parent'),
    child: t.exposeString('child'),
    callCount: t.exposeInt('callCount'),
  }),
});

builder.queryFields((t) => ({
  serviceDependencies: t.field({
    nullable: true,
    type: [DependencyRef],
    description:
      'The service graph. Jaeger answers it from its own dependency data; with traces in DuckDB these are the edges of serviceGraph over the same range. ' +
      'Default range: the last 24 h.',
    args: { from: t.arg({ type: 'Timestamp' }), to: t.arg({ type: 'Timestamp' }), service: t.arg.string({ description: 'Only links to or from this service.' }) },
    resolve: (_, args, ctx) => serviceDependencies(ctx, args),
  }),
}));
