import { builder } from './builder.ts';

builder.queryType({
  description:
    'Every query reads the tenant of the request (X-Scope-OrgID). Searches without from/to cover the last hour; ' +
    'lookups by ID and the catalog queries (services, operations, attribute keys and values, metrics) cover all stored data. ' +
    'Every field is nullable: a field whose backend fails is null with an error naming it, and the others keep their data.',
});
