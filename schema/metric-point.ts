import type { MetricPoint } from '../src/model/telemetry.ts';
import { metricPoints, pointExemplars, pointValue } from '../resolvers/metrics.ts';
import { builder } from './builder.ts';
import { PointTypeEnum } from './enums.ts';
import { LABELS_ARG, NON_FINITE_NULL, attributeFields, finiteOrNull, instantFields } from './fields.ts';

type Point = MetricPoint['point'];
const field = <K extends string>(p: Point, key: K): unknown => (key in p ? (p as Record<K, unknown>)[key] : null);
const num = (p: Point, key: string): number | null => finiteOrNull(field(p, key) as number | undefined);

builder.objectType('MetricPoint', {
  description:
    'One raw OTLP data point with every field; fields that do not apply to the point type are null ' +
    '(e.g. bucketCounts on a gauge). Doubles that are NaN or ±Infinity (legal in OTLP) read as null.',
  fields: (t) => ({
    metric: t.field({ type: 'MetricDescriptor', resolve: (m) => m.metric }),
    name: t.string({ resolve: (m) => m.metric.name }),
    pointType: t.field({ type: PointTypeEnum, resolve: (m) => m.point.type }),
    resource: t.field({ type: 'Resource', resolve: (m) => m.resource }),
    scope: t.field({ type: 'InstrumentationScope', resolve: (m) => m.scope }),
    ...attributeFields(t, (m) => m.point.attributes),
    ...instantFields(t, 'startTime', (m) => m.point.startTimeUnixNano),
    ...instantFields(t, 'time', (m) => m.point.timeUnixNano),
    flags: t.int({ resolve: (m) => m.point.flags }),
    value: t.float({ nullable: true, description: `Number points: the value as a double; ${NON_FINITE_NULL}`, resolve: (m) => finiteOrNull(pointValue(m.point)) }),
    asInt: t.string({ nullable: true, resolve: (m) => (field(m.point, 'asInt') as string | undefined) ?? null }),
    asDouble: t.float({ nullable: true, resolve: (m) => num(m.point, 'asDouble') }),
    count: t.float({ nullable: true, resolve: (m) => num(m.point, 'count') }),
    sum: t.float({ nullable: true, resolve: (m) => num(m.point, 'sum') }),
    min: t.float({ nullable: true, resolve: (m) => num(m.point, 'min') }),
    max: t.float({ nullable: true, resolve: (m) => num(m.point, 'max') }),
    bucketCounts: t.floatList({ nullable: true, resolve: (m) => (m.point.type === 'histogram' ? m.point.bucketCounts : null) }),
    explicitBounds: t.floatList({ nullable: true, resolve: (m) => (m.point.type === 'histogram' ? m.point.explicitBounds : null) }),
    scale: t.int({ nullable: true, resolve: (m) => (m.point.type === 'exponentialHistogram' ? m.point.scale : null) }),
    zeroCount: t.float({ nullable: true, resolve: (m) => (m.point.type === 'exponentialHistogram' ? m.point.zeroCount : null) }),
    zeroThreshold: t.float({ nullable: true, resolve: (m) => (m.point.type === 'exponentialHistogram' ? finiteOrNull(m.point.zeroThreshold) : null) }),
    positive: t.field({
      type: 'ExponentialBuckets',
      nullable: true,
      resolve: (m) => (m.point.type === 'exponentialHistogram' ? m.point.positive : null),
    }),
    negative: t.field({
      type: 'ExponentialBuckets',
      nullable: true,
      resolve: (m) => (m.point.type === 'exponentialHistogram' ? m.point.negative : null),
    }),
    quantileValues: t.field({
      type: ['QuantileValue'],
      nullable: true,
      resolve: (m) => (m.point.type === 'summary' ? m.point.quantileValues : null),
    }),
    exemplars: t.field({ type: ['Exemplar'], resolve: (m) => pointExemplars(m.point) }),
  }),
});

builder.queryFields((t) => ({
  metricPoints: t.field({
    nullable: true,
    type: ['MetricPoint'],
    description: 'Raw points of one metric, newest first; without from/to, the last hour.',
    args: {
      name: t.arg.string({ required: true }),
      labels: t.arg({ type: 'JSON', description: LABELS_ARG }),
      from: t.arg({ type: 'Timestamp' }),
      to: t.arg({ type: 'Timestamp' }),
      limit: t.arg.int({ defaultValue: 100, description: '1–1000.' }),
    },
    resolve: (_, args, ctx) => metricPoints(ctx, args),
  }),
}));
