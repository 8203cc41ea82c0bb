import { builder } from './builder.ts';

builder.mutationType({
  description: 'Changes act on the tenant of the request (X-Scope-OrgID).',
});
