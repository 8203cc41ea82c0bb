// The Jaeger store: a TraceStore over a Jaeger query service's api_v3 (HTTP, OTLP/JSON answers).
// Jaeger holds traces only; logs and metrics stay with another backend.
export { createJaegerTraceStore, type JaegerTraceStoreOptions } from './trace-store.ts';
export { BACKEND as JAEGER_BACKEND } from './errors.ts';
