// The plain data shapes behind the GraphQL object types (Pothos "backing models").
// Most are the store's own records; only the shapes GraphQL adds are declared here.
import type { MetricType, SpanKind, SpanRecord } from '../src/model/telemetry.ts';
import type { Page, StoredExemplar } from '../src/stores/types.ts';

/** A trace is its spans, sorted by start time; never empty (an unknown trace is `null`). */
export interface TraceModel {
  traceId: string;
  spans: SpanRecord[];
  /**
   * The request's allowance of spans that Trace.spans returns (resolvers/traces.ts
   * ctx.maxTraceSpans), shared by every trace the request read from a store. A live tail's trace has
   * none: tail.traces.maxSpansPerTrace bounds it already.
   */
  spanAllowance?: TraceSpanAllowance;
}

/** What is left of one request's maxTraceSpans, and whether its note was given. */
export interface TraceSpanAllowance {
  left: number;
  noted: boolean;
}

/** A page of spans or logs as its connection (and its PageInfo) reads it: paging is forward only. */
export interface ConnectionModel<T> extends Page<T> {
  /** The page was asked for after a cursor (`after` given, not empty). */
  afterCursor: boolean;
}

/** Series exemplars carry only a double; raw points keep OTLP's int/double choice as well. */
export interface ExemplarModel extends StoredExemplar {
  asInt?: string;
  asDouble?: number;
}

export interface OperationModel {
  name: string;
  kind: SpanKind;
}

export interface MetricInfoModel {
  name: string;
  type: MetricType;
  unit: string;
  description: string;
}
