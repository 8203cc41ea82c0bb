import { builder } from './builder.ts';

builder.objectType('PageInfo', {
  description: 'Relay-style paging: pass `endCursor` as `after` to get the next page.',
  fields: (t) => ({
    hasNextPage: t.exposeBoolean('hasNextPage'),
    endCursor: t.exposeString('endCursor', { nullable: true }),
  }),
});
