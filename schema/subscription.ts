import { builder } from './builder.ts';

builder.subscriptionType({
  description:
    'Live tails of the tenant of the connection (X-Scope-OrgID, or the connection_init payload on a WebSocket). ' +
    'Served over graphql-ws and over GraphQL SSE (POST with `accept: text/event-stream`). ' +
    'Records arrive as they are received, before they are stored.',
});
