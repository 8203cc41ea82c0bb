import { builder } from './builder.ts';

builder.objectType('PageInfo', {
  description:
    'Relay-style paging, forward only (`first` / `after`): pass `endCursor` as `after` to get the next page. ' +
    'Read from the connection’s page, so its fields agree with its edges.',
  fields: (t) => ({
    hasNextPage: t.exposeBoolean('hasNextPage', { description: 'More records follow this page.' }),
    hasPreviousPage: t.boolean({
      description:
        'Records come before this page: true when it was asked for with `after` (the records up to that cursor), false for a first page. ' +
        'There is no backward paging (`last` / `before`), as the Relay spec allows.',
      resolve: (p) => p.afterCursor,
    }),
    startCursor: t.string({ nullable: true, description: 'The first edge’s cursor; null for an empty page.', resolve: (p) => p.items[0]?.cursor ?? null }),
    endCursor: t.exposeString('endCursor', { nullable: true, description: 'The last edge’s cursor; null for an empty page.' }),
  }),
});
