import { operations } from '../resolvers/catalog.ts';
import { builder } from './builder.ts';
import { SpanKindEnum } from './enums.ts';

builder.objectType('Operation', {
  description: 'A span name a service uses, with its kind.',
  fields: (t) => ({
    name: t.exposeString('name'),
    kind: t.expose('kind', { type: SpanKindEnum }),
  }),
});

builder.queryFields((t) => ({
  operations: t.field({
    nullable: true,
    type: ['Operation'],
    args: { service: t.arg.string({ required: true }), from: t.arg({ type: 'Timestamp' }), to: t.arg({ type: 'Timestamp' }) },
    resolve: (_, args, ctx) => operations(ctx, args),
  }),
}));
