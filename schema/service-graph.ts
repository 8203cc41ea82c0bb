// The service graph, with the field names Grafana's node graph panel reads.
import type { ServiceEdgeStats } from '../src/stores/correlation-types.ts';
import { edgeStats, graphNodes, nodeStats, serviceGraph, type ServiceGraphModel, type ServiceNodeModel } from '../resolvers/service-graph.ts';
import { builder } from './builder.ts';
import { instantFields } from './fields.ts';

export const ServiceGraphNodeRef = builder.objectRef<ServiceNodeModel>('ServiceGraphNode').implement({
  description: 'A service. id, title, mainStat, secondaryStat and arc__* are what Grafana’s node graph panel reads.',
  fields: (t) => ({
    id: t.id({ description: 'The service name.', resolve: (n) => n.service }),
    title: t.string({ description: 'The service name.', resolve: (n) => n.service }),
    mainStat: t.string({ description: 'Request rate, e.g. "1.25 req/s".', resolve: nodeStats.mainStat }),
    secondaryStat: t.string({ description: 'p95 duration, e.g. "p95 42.0 ms".', resolve: nodeStats.secondaryStat }),
    arc__success: t.float({ description: 'Share of requests without error (arcs add up to 1).', resolve: nodeStats.arcSuccess }),
    arc__failed: t.float({ description: 'Share of requests with status ERROR.', resolve: nodeStats.arcFailed }),
    requests: t.exposeInt('requests', { description: 'Entry spans (SERVER, CONSUMER) in the range.' }),
    errors: t.exposeInt('errors', { description: 'Of those, the ones with status ERROR.' }),
    requestRate: t.float({ description: 'Requests per second over the range (a range under one second counts as one second).', resolve: nodeStats.requestRate }),
    errorRate: t.float({ description: 'Errors per second over the range (a range under one second counts as one second).', resolve: nodeStats.errorRate }),
    errorRatio: t.float({ description: 'errors / requests; 0 without requests.', resolve: nodeStats.errorRatio }),
    p95Ms: t.float({ nullable: true, description: 'null when the service had no entry span.', resolve: nodeStats.p95Ms }),
  }),
});

export const ServiceGraphEdgeRef = builder.objectRef<ServiceEdgeStats>('ServiceGraphEdge').implement({
  description: 'Calls from one service to another: child spans in `target` whose parent span is in `source`.',
  fields: (t) => ({
    id: t.id({ description: '`source->target`.', resolve: edgeStats.id }),
    source: t.exposeString('source', { description: 'The calling service (the parent span’s).' }),
    target: t.exposeString('target', { description: 'The called service (the child span’s).' }),
    mainStat: t.string({ description: 'e.g. "12 calls".', resolve: edgeStats.mainStat }),
    secondaryStat: t.string({ description: 'e.g. "1 errors, p95 40.2 ms".', resolve: edgeStats.secondaryStat }),
    callCount: t.int({ description: 'Child spans in `target` whose parent span is in `source`, in the range (the parent may have started before it).', resolve: (e) => e.calls }),
    errorCount: t.int({ description: 'Calls whose child span has status ERROR.', resolve: (e) => e.errors }),
    p95Ms: t.float({ description: 'p95 of the child spans’ durations.', resolve: edgeStats.p95Ms }),
  }),
});

export const ServiceGraphRef = builder.objectRef<ServiceGraphModel>('ServiceGraph').implement({
  description: 'Services and the calls between them, from parent/child spans across services.',
  fields: (t) => ({
    source: t.exposeString('source', { description: 'The backend the graph was computed by.' }),
    ...instantFields(t, 'from', (g) => g.range.from),
    ...instantFields(t, 'to', (g) => g.range.to),
    nodes: t.field({ type: [ServiceGraphNodeRef], resolve: graphNodes }),
    edges: t.field({ type: [ServiceGraphEdgeRef], resolve: (g) => g.edges }),
  }),
});

builder.queryFields((t) => ({
  serviceGraph: t.field({
    type: ServiceGraphRef,
    nullable: true,
    description:
      'Services and the calls between them in [from, to]. Nodes: every service with a span in the range and both ends of every edge ' +
      '(a caller whose span started before the range is a node with no requests). With services: only edges touching them, and the nodes of those edges. ' +
      'null (with an error naming the backend) when the backend fails.',
    args: {
      from: t.arg({ type: 'Timestamp', required: true }),
      to: t.arg({ type: 'Timestamp', required: true }),
      services: t.arg.stringList(),
    },
    resolve: (_, args, ctx) => serviceGraph(ctx, args),
  }),
}));
