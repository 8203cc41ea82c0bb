import { promql } from '../resolvers/promql.ts';
import type { PromQlResult, PromQlSeries } from '../src/stores/prometheus/types.ts';
import { builder } from './builder.ts';

const PromQlResultTypeEnum = builder.enumType('PromQlResultType', {
  description: "Prometheus' result type: MATRIX for range queries, VECTOR / SCALAR / STRING for instant ones.",
  values: ['MATRIX', 'VECTOR', 'SCALAR', 'STRING'] as const,
});

const PromQlSeriesRef = builder.objectRef<PromQlSeries>('PromQlSeries').implement({
  description: 'One series of a PromQL result, with Prometheus label names (including __name__ when the query keeps it).',
  fields: (t) => ({
    labels: t.field({ type: 'JSON', resolve: (s) => s.labels }),
    points: t.field({ type: ['SeriesPoint'], description: 'NaN and ±Inf read as null.', resolve: (s) => s.points }),
    exemplars: t.field({ type: ['Exemplar'], description: 'Exemplars Prometheus holds for the series in the range (the last 5 minutes for instant queries).', resolve: (s) => s.exemplars }),
  }),
});

const PromQlResultRef = builder.objectRef<PromQlResult>('PromQlResult').implement({
  fields: (t) => ({
    resultType: t.field({ type: PromQlResultTypeEnum, resolve: (r) => r.resultType }),
    series: t.field({ type: [PromQlSeriesRef], resolve: (r) => r.series }),
    text: t.string({ nullable: true, description: 'STRING results only.', resolve: (r) => r.text ?? null }),
  }),
});

builder.queryFields((t) => ({
  promql: t.field({
    nullable: true,
    type: PromQlResultRef,
    description:
      'A PromQL query against Prometheus (needs storage.read.metrics: prometheus; otherwise GW_NOT_SUPPORTED). ' +
      'With from and to a range query (without step, about 250 steps); with only to an instant query at to; with neither an instant query now.',
    args: {
      query: t.arg.string({ required: true }),
      from: t.arg({ type: 'Timestamp' }),
      to: t.arg({ type: 'Timestamp' }),
      step: t.arg({ type: 'Duration' }),
    },
    resolve: (_, args, ctx) => promql(ctx, args),
  }),
}));
