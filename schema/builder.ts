// The Pothos builder: scalars, context and backing models. Types are defined in their own files.
import SchemaBuilder from '@pothos/core';
import type {
  InstrumentationScope,
  KeyValue,
  MetricDescriptor,
  MetricPoint,
  Resource,
  SpanEvent,
  SpanLink,
  SpanRecord,
  StatusCode,
} from '../src/model/telemetry.ts';
import type { MetricSeries, Page, SeriesPoint, StoredLogRecord, TraceSummary } from '../src/stores/types.ts';
import type { GraphQLContext } from '../resolvers/context.ts';
import type { AttributeConditionInput, TelemetryFilterInput } from '../resolvers/filter.ts';
import type { ConnectionModel, ExemplarModel, MetricInfoModel, OperationModel, TraceModel } from '../resolvers/models.ts';
import type { LogTailEventModel, MetricTailEventModel, SpanTailEventModel, TraceTailEventModel } from '../resolvers/tail.ts';
import { DurationScalar, JSONScalar, TimestampScalar } from './scalars.ts';

export const builder = new SchemaBuilder<{
  Context: GraphQLContext;
  DefaultFieldNullability: false;
  Scalars: {
    ID: { Input: string; Output: string };
    Timestamp: { Input: bigint; Output: bigint };
    Duration: { Input: bigint; Output: bigint };
    JSON: { Input: unknown; Output: unknown };
  };
  Objects: {
    Trace: TraceModel;
    TraceSummary: TraceSummary;
    Span: SpanRecord;
    SpanStatus: { code: StatusCode; message: string };
    SpanEvent: SpanEvent;
    SpanLink: SpanLink;
    SpanEdge: Page<SpanRecord>['items'][number];
    SpanConnection: ConnectionModel<SpanRecord>;
    LogRecord: StoredLogRecord;
    LogEdge: Page<StoredLogRecord>['items'][number];
    LogConnection: ConnectionModel<StoredLogRecord>;
    PageInfo: ConnectionModel<unknown>;
    Resource: Resource;
    InstrumentationScope: InstrumentationScope;
    Attribute: KeyValue;
    MetricSeries: MetricSeries;
    SeriesPoint: SeriesPoint;
    Exemplar: ExemplarModel;
    MetricInfo: MetricInfoModel;
    MetricDescriptor: MetricDescriptor;
    MetricPoint: MetricPoint;
    ExponentialBuckets: { offset: number; bucketCounts: number[] };
    QuantileValue: { quantile: number; value: number };
    Operation: OperationModel;
    SpanTailEvent: SpanTailEventModel;
    LogTailEvent: LogTailEventModel;
    TraceTailEvent: TraceTailEventModel;
    MetricTailEvent: MetricTailEventModel;
  };
  Inputs: {
    TelemetryFilter: TelemetryFilterInput;
    AttributeConditionInput: AttributeConditionInput;
  };
}>({ defaultFieldNullability: false });

builder.addScalarType('Timestamp', TimestampScalar);
builder.addScalarType('Duration', DurationScalar);
builder.addScalarType('JSON', JSONScalar);

export type BuilderTypes = typeof builder extends PothosSchemaTypes.SchemaBuilder<infer T> ? T : never;
