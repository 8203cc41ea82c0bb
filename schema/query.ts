import { builder } from './builder.ts';

builder.queryType({
  description:
    'Every query reads the tenant of the request (X-Scope-OrgID). Searches (traces, spans, logs) without from/to cover the last hour; ' +
    'lookups by ID, the catalog queries (services, operations, attribute keys and values, metrics) and semantic search (search, similar) ' +
    'cover all stored (indexed) data. ' +
    'Every field is nullable: a field whose backend fails is null with an error naming it, and the others keep their data.',
});
