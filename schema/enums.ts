// Enums shared by several types and inputs; in one file so the type files never import each other.
import { SpanKind, StatusCode, Temporality } from '../src/model/telemetry.ts';
import { builder } from './builder.ts';

export const SpanKindEnum = builder.enumType(SpanKind, { name: 'SpanKind', description: 'OTLP Span.SpanKind.' });

export const StatusCodeEnum = builder.enumType(StatusCode, { name: 'StatusCode', description: 'OTLP Status.StatusCode.' });

export const TemporalityEnum = builder.enumType(Temporality, {
  name: 'AggregationTemporality',
  description: 'OTLP AggregationTemporality.',
});

export const OrderEnum = builder.enumType('Order', {
  description: 'By time (a span’s start, a log’s time), newest or oldest first.',
  values: ['NEWEST_FIRST', 'OLDEST_FIRST'] as const,
});

export const AttributeTypeEnum = builder.enumType('AttributeType', {
  description: 'The OTLP AnyValue type of an attribute; INT and DOUBLE stay distinct even when the JSON value looks alike.',
  values: ['STRING', 'BOOL', 'INT', 'DOUBLE', 'BYTES', 'ARRAY', 'KVLIST', 'EMPTY'] as const,
});

export const AttributeSignalEnum = builder.enumType('AttributeSignal', {
  values: ['SPAN', 'LOG', 'METRIC', 'RESOURCE'] as const,
});

export const AggregationEnum = builder.enumType('Aggregation', {
  description:
    'How the points of one step combine. SUM of a counter (a monotonic sum, delta or cumulative) is what it counted during the step; ' +
    'RATE is the per-second increase of a counter (of a histogram: observations per second; of a gauge or a non-monotonic sum it is refused, GW_BAD_FILTER); ' +
    'a last step that ends after `to` is divided by the time its increase covers, not by the whole step.',
  values: ['AVG', 'SUM', 'MIN', 'MAX', 'LAST', 'COUNT', 'RATE'] as const,
});

export const MetricTypeEnum = builder.enumType('MetricType', {
  values: {
    GAUGE: { value: 'gauge' },
    SUM: { value: 'sum' },
    HISTOGRAM: { value: 'histogram' },
    EXPONENTIAL_HISTOGRAM: { value: 'exponentialHistogram' },
    SUMMARY: { value: 'summary' },
  } as const,
});

export const PointTypeEnum = builder.enumType('MetricPointType', {
  values: {
    NUMBER: { value: 'number' },
    HISTOGRAM: { value: 'histogram' },
    EXPONENTIAL_HISTOGRAM: { value: 'exponentialHistogram' },
    SUMMARY: { value: 'summary' },
  } as const,
});

export const SeverityEnum = builder.enumType('Severity', {
  description: 'The first severity number of each OTLP severity range (TRACE = 1 … FATAL = 21).',
  values: {
    TRACE: { value: 1 },
    DEBUG: { value: 5 },
    INFO: { value: 9 },
    WARN: { value: 13 },
    ERROR: { value: 17 },
    FATAL: { value: 21 },
  } as const,
});
