// Subscriptions run their selection once per event for as long as they live (a thousand tails at
// 10,000 spans/s: 10,000 executions a second), so each event's selection runs compiled by
// graphql-jit: one compilation per document, shared by every subscriber of that document (Yoga's
// parse cache hands them the same DocumentNode). Queries and mutations run once each, so compiling
// would cost more than it saves; they keep graphql-tools' executor.
//
// Only the per-event execution is compiled. The subscription itself (the root field's arguments,
// its subscribe resolver, its errors) is set up by graphql-js' createSourceEventStream as before:
// graphql-jit's own subscribe passes the operation's variables as the root field's arguments, so
// `tailSpans(filter: { service: $s })` would see `{ s }` and no filter.
//
// graphql-jit cannot compile variables of a recursive input type (TelemetryFilter has and/or/not:
// its coercion code recurses until the stack overflows, after ~50 s of CPU), which is how
// `teleql tail` and most clients send their filter. So what is compiled is the document without
// the root field's arguments that use such variables, and without those variables: the arguments
// were applied when the subscription was set up, and the root field's resolver only passes the
// event on. A document whose selection itself uses such a variable runs on the ordinary executor. Not @envelop/graphql-jit: it answers with the compilation error when a
// document cannot be compiled.
import {
  Kind,
  createSourceEventStream,
  getNamedType,
  getOperationAST,
  isInputObjectType,
  typeFromAST,
  visit,
  type ASTNode,
  type DocumentNode,
  type ExecutionArgs,
  type ExecutionResult,
  type FieldNode,
  type GraphQLInputObjectType,
  type GraphQLSchema,
  type OperationDefinitionNode,
} from 'graphql';
import { compileQuery, isCompiledQuery, type CompiledQuery } from 'graphql-jit';
import { maskError, type Plugin } from 'graphql-yoga';
import type { Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import * as wsModule from 'ws';
import type { WebSocket } from 'ws';
import { defaultLimitsConfig } from '../config/security.ts';
import { isTailEventStream, type TailEventStream } from '../tail/push.ts';
import { compiledDocumentCache, compiledDocumentChars } from './document-cache.ts';
import type { MetricSample } from './metrics.ts';

type Subscribe = (args: ExecutionArgs) => Promise<AsyncIterableIterator<ExecutionResult> | ExecutionResult>;

/** Whether the input type can contain itself (directly or through other input types). */
function recursive(type: GraphQLInputObjectType, path = new Set<GraphQLInputObjectType>()): boolean {
  if (path.has(type)) return true;
  path.add(type);
  for (const field of Object.values(type.getFields())) {
    const named = getNamedType(field.type);
    if (isInputObjectType(named) && recursive(named, path)) return true;
  }
  path.delete(type);
  return false;
}

/** Variables of the operation whose type is (or holds) a recursive input type (graphql-jit cannot coerce them). */
export function recursiveVariables(schema: GraphQLSchema, operation: OperationDefinitionNode): Set<string> {
  const names = new Set<string>();
  for (const v of operation.variableDefinitions ?? []) {
    const named = getNamedType(typeFromAST(schema, v.type as Parameters<typeof typeFromAST>[1]));
    if (isInputObjectType(named) && recursive(named)) names.add(v.variable.name.value);
  }
  return names;
}

function variablesIn(node: ASTNode): Set<string> {
  const used = new Set<string>();
  visit(node, { Variable: (v) => void used.add(v.name.value) });
  return used;
}

/**
 * The document each event runs: the root field without the arguments that use a recursive-input
 * variable, and only the variable definitions still used. Undefined when the selection itself uses
 * such a variable (graphql-jit could not compile it).
 */
export function perEventDocument(schema: GraphQLSchema, document: DocumentNode, operation: OperationDefinitionNode): DocumentNode | undefined {
  const recursiveVars = recursiveVariables(schema, operation);
  const [root, ...rest] = operation.selectionSet.selections;
  if (root?.kind !== Kind.FIELD || rest.length > 0) return undefined; // not a valid subscription: graphql-js reports it
  const usesRecursive = (node: ASTNode) => [...variablesIn(node)].some((name) => recursiveVars.has(name));
  const field: FieldNode = { ...root, arguments: (root.arguments ?? []).filter((a) => !usesRecursive(a)) };
  const fragments = document.definitions.filter((d) => d.kind === Kind.FRAGMENT_DEFINITION);
  const selectionSet = { ...operation.selectionSet, selections: [field] };
  if ([selectionSet, ...fragments].some(usesRecursive)) return undefined;
  const used = new Set([selectionSet, ...fragments].flatMap((node) => [...variablesIn(node)]));
  const pruned: OperationDefinitionNode = {
    ...operation,
    selectionSet,
    variableDefinitions: (operation.variableDefinitions ?? []).filter((v) => used.has(v.variable.name.value)),
  };
  return { ...document, definitions: [pruned, ...fragments] };
}

/** The stream with each event run through `execute`, one promise per event at most. */
function mapEvents(stream: AsyncIterable<unknown>, execute: (event: unknown) => ExecutionResult | Promise<ExecutionResult>): AsyncIterableIterator<ExecutionResult> {
  const it = stream[Symbol.asyncIterator]();
  const mapped: AsyncIterableIterator<ExecutionResult> = {
    next: () =>
      it.next().then((r): IteratorResult<ExecutionResult> | Promise<IteratorResult<ExecutionResult>> => {
        if (r.done) return { value: undefined, done: true };
        const result = execute(r.value);
        return result instanceof Promise ? result.then((value) => ({ value, done: false })) : { value: result, done: false };
      }),
    return: async () => {
      await it.return?.();
      return { value: undefined, done: true };
    },
    throw: async (err: unknown) => {
      await it.throw?.(err);
      throw err instanceof Error ? err : new Error(String(err));
    },
    [Symbol.asyncIterator]: () => mapped,
  };
  return mapped;
}

/**
 * Where a graphql-ws subscription's events can be pushed: its socket and operation ID. The
 * graphql-ws wiring puts it in the operation's rootValue (`push`); SSE has none.
 */
export interface PushTarget {
  id: string;
  socket: WebSocket;
}

// ws' frame builder: exported at runtime (ws.Sender), not declared by @types/ws.
const { Sender } = wsModule as unknown as {
  Sender: { frame(data: Buffer, options: { fin: boolean; opcode: number; mask: boolean; readOnly: boolean; rsv1: boolean }): Buffer[] };
};
const TEXT_FRAME = { fin: true, opcode: 1, mask: false, readOnly: false, rsv1: false };

/** ws' underlying net.Socket (`_socket`: not public API; without it events take the ordinary path). */
const netSocketOf = (ws: WebSocket): Socket | undefined => (ws as unknown as { _socket?: Socket })._socket;

/** One unfragmented, unmasked WebSocket text frame (server frames are not masked), built by ws: header and payload. */
export function textFrame(text: string): Buffer[] {
  return Sender.frame(Buffer.from(text), TEXT_FRAME);
}

/** How long push delivery holds frames so that a socket's events share one write (tail.flushIntervalMs, tail.busyFlushIntervalMs). */
export interface FlushIntervals {
  /** While the event loop has room; 0 = write at once. */
  intervalMs: number;
  /** While the event loop was at least BUSY_LOAD busy over each of the last two half seconds. */
  busyIntervalMs: number;
}

/** The event loop's utilization above which the flusher holds frames for busyIntervalMs. */
export const BUSY_LOAD = 0.9;

/**
 * The event loop's utilization (0–1) that each of the last two complete windows of at least
 * `windowMs` reached (the lower of the two): a saturated loop stays saturated, while one busy stretch
 * (a DuckDB reopen, a burst of subscriptions opening) does not read as saturation, so it does not
 * hold a paced stream's events for busyIntervalMs.
 */
export function eventLoopLoad(windowMs = 500, now = () => performance.now()): () => number {
  let start = performance.eventLoopUtilization();
  let startAt = now();
  let last = 0;
  let previous = 0;
  return () => {
    const t = now();
    if (t - startAt >= windowMs) {
      const current = performance.eventLoopUtilization();
      previous = last;
      last = performance.eventLoopUtilization(current, start).utilization;
      start = current;
      startAt = t;
    }
    return Math.min(previous, last);
  };
}

/**
 * Writes the frames push delivery holds, for all subscriptions of a server, in rounds. A loopback
 * `write` costs ~13–15 µs of CPU whatever it carries, and a thousand selective tails each get an
 * event every few hundred spans, so writing at once is one write per event. While ingest keeps the
 * event loop busy (utilization ≥ BUSY_LOAD over each of the last two half seconds) rounds are
 * `busyIntervalMs` apart, so a socket's events of many ingest requests go in one write and the
 * CPU goes to ingest; otherwise `intervalMs` (0: at once, the lowest latency). Push delivery also
 * takes its events from the bus at the round while rounds are held (see pushEvents).
 */
export class FrameFlusher {
  private readonly waiting: (() => void)[] = [];
  private timer: NodeJS.Timeout | undefined;
  private flushing = false;
  /** For /metrics: socket writes and the events they carried, and rounds held for busyIntervalMs. */
  readonly stats = { writes: 0, events: 0, busyRounds: 0 };
  constructor(
    readonly intervals: FlushIntervals,
    private readonly load: () => number = eventLoopLoad(),
  ) {}

  /** Whether a round starting now gets the busy hold: it is the longer one and the loop is saturated. */
  private busy(): boolean {
    return this.intervals.busyIntervalMs > this.intervals.intervalMs && this.load() >= BUSY_LOAD;
  }

  /** How long frames scheduled now are held. */
  holdMs(): number {
    return this.busy() ? this.intervals.busyIntervalMs : this.intervals.intervalMs;
  }

  metrics(): MetricSample[] {
    const { writes, events, busyRounds } = this.stats;
    return [
      { name: 'teleql_tail_push_writes_total', help: 'Socket writes of pushed tail events (graphql-ws); events per write = events_total / writes_total', type: 'counter', value: writes },
      { name: 'teleql_tail_push_events_total', help: 'Tail events pushed to graphql-ws sockets', type: 'counter', value: events },
      { name: 'teleql_tail_push_busy_rounds_total', help: 'Rounds in which pushed frames were held for tail.busyFlushIntervalMs (event loop at least 90 % busy)', type: 'counter', value: busyRounds },
    ];
  }

  /** Calls `write` at the next round, or at once when nothing is to be held; during a round, later in that round. */
  schedule(write: () => void): void {
    if (this.flushing) return void this.waiting.push(write);
    if (this.timer === undefined) {
      const busy = this.busy();
      const ms = busy ? this.intervals.busyIntervalMs : this.intervals.intervalMs;
      if (ms === 0) return write();
      if (busy) this.stats.busyRounds++;
      this.timer = setTimeout(this.flush, ms).unref();
    }
    this.waiting.push(write);
  }

  /** Runs every scheduled write now, with those they schedule (events taken at the round, then their frames). */
  readonly flush = (): void => {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.flushing = true;
    try {
      for (let i = 0; i < this.waiting.length; i++) this.waiting[i]!();
    } finally {
      this.waiting.length = 0;
      this.flushing = false;
    }
  };
}

/** A socket's held frames are written without waiting for the flush once they reach this size. */
const HOLD_BYTES = 16 * 1024;

/**
 * Push delivery of one graphql-ws subscription, for sources that can be polled (the tails). Per
 * event: run the compiled selection and write the `next` message to the socket, without
 * graphql-ws's per-event promise chain (iterator → envelop → graphql-ws → send callback: ~6
 * promises and closures per event, ~20 µs with a thousand subscribers). The protocol stays
 * graphql-ws': `next` messages in order, each one's errors masked as Yoga masks them; graphql-ws
 * still owns the operation (`complete` from the client and the socket closing call return(), which
 * stops the source; an internal failure rejects next(), which graphql-ws sends as `error`).
 *
 * While the flusher holds rounds, events are taken from the bus at the round (or at once when the
 * subscription's buffer fills), and their frames written then; frames are written at once when 16
 * KiB are held.
 *
 * Slow consumers: events are taken from the bus only while the socket's own write buffer is below
 * its high-water mark (the kernel accepts them); past it they wait in the subscription's bounded
 * buffer, which drops the oldest, until the socket drains. Held frames are at most one flush
 * interval's events.
 */
function pushEvents(
  stream: TailEventStream<unknown>,
  target: PushTarget,
  raw: Socket,
  execute: (event: unknown) => ExecutionResult | Promise<ExecutionResult>,
  isDev: boolean,
  flusher: FrameFlusher,
): AsyncIterableIterator<ExecutionResult> {
  // Without extensions (no permessage-deflate) ws writes every frame to the socket synchronously,
  // so frames written here keep their order with its own (pings, close). Writing a pass's frames
  // as one buffer replaces ws.send's cork + writev per message, a quarter of the per-event cost
  // with a thousand sockets.
  const rawFrames = target.socket.extensions === '';
  // The constant part of every `next` message of this operation.
  const prefix = `{"id":${JSON.stringify(target.id)},"type":"next","payload":`;
  let done = false;
  let waitingDrain = false;
  let executing = false;
  let finish: ((r: IteratorResult<ExecutionResult>) => void) | undefined;
  let fail: ((err: unknown) => void) | undefined;
  let failure: unknown;

  // Frames held for the next flush, written as one buffer (one write, no cork/writev).
  const frames: Buffer[] = [];
  let heldBytes = 0;
  let heldEvents = 0;
  let scheduled = false;
  const send = (result: ExecutionResult) => {
    if (result.errors) result = { ...result, errors: result.errors.map((e) => maskError(e, 'Unexpected error.', isDev) as typeof e) };
    // GraphQLError has toJSON: the same payload graphql-ws sends.
    const message = prefix + JSON.stringify(result) + '}';
    if (!rawFrames) {
      // ws compresses and writes it (permessage-deflate; the gateway's server does not offer it today).
      flusher.stats.writes++;
      flusher.stats.events++;
      return void target.socket.send(message);
    }
    heldEvents++;
    for (const f of textFrame(message)) {
      frames.push(f);
      heldBytes += f.length;
    }
  };
  const write = () => {
    scheduled = false;
    // Frames of a subscription that ended are not sent (graphql-ws sends nothing after complete).
    if (frames.length === 0 || done || target.socket.readyState !== target.socket.OPEN) return void (frames.length = heldBytes = heldEvents = 0);
    raw.write(frames.length === 1 ? frames[0]! : Buffer.concat(frames, heldBytes));
    flusher.stats.writes++;
    flusher.stats.events += heldEvents;
    frames.length = heldBytes = heldEvents = 0;
  };
  const flush = () => {
    if (frames.length === 0) return;
    if (heldBytes >= HOLD_BYTES) return write();
    if (scheduled) return;
    scheduled = true;
    flusher.schedule(write);
  };
  const stop = (err?: unknown) => {
    if (done) return;
    // Events taken before a failure go out before graphql-ws' error message; after a complete or a
    // close (no err) the held ones are dropped.
    if (err !== undefined) write();
    done = true;
    stream.onReady(undefined);
    stream.close();
    raw.off('drain', onDrain);
    if (err !== undefined) {
      failure = err;
      fail?.(err);
    } else finish?.({ value: undefined, done: true });
    finish = fail = undefined;
  };
  const onDrain = () => {
    waitingDrain = false;
    drain();
  };
  /** Sends what is waiting, while the socket takes it; one event at a time when execution is async. */
  function drain(): void {
    if (done || executing || waitingDrain) return;
    if (target.socket.readyState !== target.socket.OPEN) return;
    try {
      for (;;) {
        if (raw.writableNeedDrain) {
          waitingDrain = true;
          raw.once('drain', onDrain);
          return;
        }
        const event = stream.poll();
        if (event === undefined) return;
        const result = execute(event);
        if (result instanceof Promise) {
          executing = true;
          result.then(
            (r) => {
              executing = false;
              if (done) return;
              send(r);
              flush();
              drain();
            },
            (err: unknown) => stop(err),
          );
          return;
        }
        send(result);
      }
    } catch (err) {
      stop(err);
    } finally {
      flush();
    }
  }

  // While the flusher holds frames, events are taken at its round as well: each subscription's
  // events then run, serialize and go out together instead of one by one between ingest batches,
  // where every subscriber's state is cold (a thousand tails at full speed: 12 → 9 µs per event).
  // A full buffer is drained at once, so holding never drops what the socket would take.
  let roundDue = false;
  const takeAtRound = () => {
    roundDue = false;
    drain();
  };
  stream.onReady((full) => {
    if (full === true || flusher.holdMs() === 0) return drain();
    if (roundDue) return;
    roundDue = true;
    flusher.schedule(takeAtRound);
  });
  const it: AsyncIterableIterator<ExecutionResult> = {
    // Never yields: events go to the socket. Resolves when the subscription ends.
    next: () =>
      done
        ? failure !== undefined
          ? Promise.reject(failure instanceof Error ? failure : new Error(String(failure)))
          : Promise.resolve({ value: undefined, done: true })
        : new Promise((resolve, reject) => {
            finish = resolve;
            fail = reject;
          }),
    return: () => {
      stop();
      return Promise.resolve({ value: undefined, done: true });
    },
    throw: (err: unknown) => {
      stop();
      return Promise.reject(err instanceof Error ? err : new Error(String(err)));
    },
    [Symbol.asyncIterator]: () => it,
  };
  return it;
}

function compiledSubscribe(query: CompiledQuery, isDev: boolean, flusher: FrameFlusher): Subscribe {
  return async (args) => {
    const stream = await createSourceEventStream(args);
    if (!(Symbol.asyncIterator in stream)) return stream;
    const execute = (event: unknown) => query.query(event, args.contextValue, args.variableValues);
    const target = (args.rootValue as { push?: PushTarget } | undefined)?.push;
    const raw = target && netSocketOf(target.socket);
    if (target && raw && isTailEventStream(stream)) return pushEvents(stream, target, raw, execute, isDev, flusher);
    return mapEvents(stream, execute);
  };
}

/**
 * With `enabled` false (tail.compiled), every event runs on the ordinary executor. `isDev` is Yoga's
 * maskedErrors.isDev, for the errors of pushed events (they bypass Yoga's result hooks). `flusher`
 * holds pushed frames (tail.flushIntervalMs, tail.busyFlushIntervalMs). `cacheChars`: the text of
 * documents whose compiled forms are kept (compiledDocumentChars).
 */
export function compiledSubscriptionsPlugin(
  enabled = true,
  isDev = false,
  flusher = new FrameFlusher({ intervalMs: 0, busyIntervalMs: 0 }),
  cacheChars = compiledDocumentChars(defaultLimitsConfig().graphql.documentCacheBytes),
): Plugin {
  // Per document, per operation name; null: not compiled, the ordinary executor runs it.
  const compiled = compiledDocumentCache<Map<string, Subscribe | null>>(cacheChars);
  return {
    onSubscribe({ args, setSubscribeFn }) {
      let byOperation = compiled.get(args.document);
      if (!byOperation) compiled.set(args.document, (byOperation = new Map()));
      const name = args.operationName ?? '';
      let subscribe = byOperation.get(name);
      if (subscribe === undefined) {
        subscribe = null;
        const operation = getOperationAST(args.document, args.operationName);
        const perEvent = enabled && operation?.operation === 'subscription' ? perEventDocument(args.schema, args.document, operation) : undefined;
        if (perEvent) {
          try {
            const result = compileQuery(args.schema, perEvent, args.operationName ?? undefined);
            if (isCompiledQuery(result)) subscribe = compiledSubscribe(result, isDev, flusher);
          } catch {
            // graphql-jit does not support something in it: the ordinary executor does.
          }
        }
        byOperation.set(name, subscribe);
      }
      if (subscribe) setSubscribeFn(subscribe as Parameters<typeof setSubscribeFn>[0]);
    },
  };
}
