// The one interface every ingest component shares (after the OpenTelemetry Collector's
// component.Component and consumer.Traces): receivers → processors → exporters.
import type { Logger } from 'pino';
import type { Signal, SignalItems } from '../src/model/telemetry.ts';
import { ConfigError } from '../src/config/merge.ts';
import type { OtlpRequest } from '../src/otlp/codec.ts';

export type { Signal, SignalItems };

/** What a component may ask of the process that runs it. */
export interface Host {
  logger: Logger;
  /** Report a fatal error after start-up; the host logs it and keeps serving everything else. */
  reportError(componentId: string, err: unknown): void;
}

/**
 * Lifecycle of every component. `shutdown` must work when `start` never ran and when called twice;
 * after it resolves, the component holds no buffered data and no open handles.
 */
export interface Component {
  start(host: Host): Promise<void>;
  shutdown(): Promise<void>;
  /**
   * The pipelines began to shut down (called on every component before the first `shutdown`):
   * what upstream components flush into this one must now end within the component's own shutdown
   * bound, not its usual retry budget.
   */
  shutdownBegins?(): void;
}

/**
 * Takes a batch of one signal. After the returned promise resolves the caller no longer owns
 * the items and must not change them (the consumer may keep references).
 * Rejects with a ConsumeError: `permanent` when resending the same input would fail again.
 */
export interface Consumer<S extends Signal> {
  /**
   * `request`: the OTLP request the items were decoded from, when a receiver has one. Processors
   * need not pass it on; the pipeline hands it to its tap only while no processor of the pipeline
   * mutates data, so that decoding it again gives these very items (the Redis tail transport sends
   * it instead of serializing them). A wrapper around a pipeline's head must pass it on.
   */
  consume(items: readonly SignalItems[S][], request?: OtlpRequest): Promise<void>;
}

export type Processor<S extends Signal> = Component & Consumer<S>;
export type Exporter<S extends Signal> = Component & Consumer<S>;
export type Receiver = Component;

/** An exporter's answer for one attempt, so the shared retry helper can decide what comes next. */
export type ExportResult =
  | { kind: 'success' }
  | { kind: 'failure'; error: Error } // permanent: retrying the same data will not help
  | { kind: 'retryable'; error: Error; retryAfterMs?: number };

export class ConsumeError extends Error {
  readonly permanent: boolean;
  constructor(message: string, opts: { permanent: boolean; cause?: unknown }) {
    super(message, { cause: opts.cause });
    this.name = 'ConsumeError';
    this.permanent = opts.permanent;
  }
}

export function permanentError(message: string, cause?: unknown): ConsumeError {
  return new ConsumeError(message, { permanent: true, cause });
}

export function retryableError(message: string, cause?: unknown): ConsumeError {
  return new ConsumeError(message, { permanent: false, cause });
}

export function isPermanent(err: unknown): boolean {
  return err instanceof ConsumeError && err.permanent;
}

/** The next consumers of a receiver, one per signal it may produce. A receiver never knows what sits behind. */
export type NextConsumers = { [S in Signal]?: Consumer<S> };

/** Everything a factory gets to build one named instance (`type/name`). */
export interface CreateSettings {
  id: string; // e.g. "otlp" or "otlp/internal"
  logger: Logger;
}

export interface ReceiverFactory<C> {
  kind: 'receiver';
  type: string;
  createDefaultConfig(): C;
  signals: readonly Signal[];
  create(settings: CreateSettings, config: C, next: NextConsumers): Receiver;
}

export interface ProcessorFactory<C> {
  kind: 'processor';
  type: string;
  /**
   * Whether the processor changes or drops the records it is given (the Collector's
   * Capabilities.MutatesData): redaction and limits do; the batch processor and the memory limiter
   * pass records as they are, or refuse the whole batch.
   */
  mutatesData: boolean;
  createDefaultConfig(): C;
  signals: readonly Signal[];
  create<S extends Signal>(settings: CreateSettings, config: C, signal: S, next: Consumer<S>): Processor<S>;
}

export interface ExporterFactory<C> {
  kind: 'exporter';
  type: string;
  createDefaultConfig(): C;
  signals: readonly Signal[];
  create<S extends Signal>(settings: CreateSettings, config: C, signal: S): Exporter<S>;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- a registry holds factories of any config type
export type AnyFactory = ReceiverFactory<any> | ProcessorFactory<any> | ExporterFactory<any>;

export class SignalNotSupportedError extends ConfigError {
  constructor(type: string, signal: Signal) {
    super(`component type "${type}" does not support the ${signal} signal`);
    this.name = 'SignalNotSupportedError';
  }
}
