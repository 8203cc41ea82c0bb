// `teleql tail`: subscribes to a gateway over graphql-ws and prints spans and/or log records as
// they arrive, one line each: coloured for people (no colour when stdout is not a terminal or
// NO_COLOR is set), or one JSON object per line with --json. Filters are flags; the gateway
// checks them (a bad one ends the command with the gateway's error code). A connection dropped
// after it was up (a gateway restart) is opened again until Ctrl-C, unless --no-reconnect.
import { readFileSync } from 'node:fs';
import { parseArgs, styleText } from 'node:util';
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import { unitDurationNs } from '../model/duration.ts';

export const TAIL_USAGE = `usage: teleql tail [spans] [logs] [options]

Prints the tenant's spans and/or log records live. With neither named: both, unless only
span flags (--status, --min-duration) or only log flags (--severity) are given, which pick theirs.

Options:
  --url URL             the gateway's GraphQL endpoint (http://127.0.0.1:4000/graphql; ws:// works too)
  --tenant ID           tenant (X-Scope-OrgID)
  --header 'K: V'       extra header on the WebSocket request (repeatable)
  --ca FILE             PEM CA certificate(s) to trust for https:// / wss:// (a private CA)
  --json                one JSON object per line: {"type":"span"|"log", …}
  --since TIME          replay stored records first: RFC 3339 time, or an age such as 15m or 2h
  --no-reconnect        end when the connection drops (default: once connected, open it again
                        until Ctrl-C, saying on stderr that records in between are not shown)
  --service NAME        service.name (repeatable)
  --name NAME           span name / log event name (repeatable)
  --status CODE         spans: OK | ERROR | UNSET (repeatable)
  --min-duration DUR    spans: at least this long, e.g. 250ms
  --severity LEVEL      logs: at least TRACE|DEBUG|INFO|WARN|ERROR|FATAL, or a number 1–24
  --source NAME         telemetry.source (repeatable)
  --attr KEY=VALUE      attribute equals value (repeatable)

Environment: TELEQL_URL (the --url default); TELEQL_TOKEN, an API key or JWT sent as
"Authorization: Bearer …" (kept out of the shell history and the process list, where a
--header would show it; an authorization --header wins).
`;

const SPAN_FIELDS = 'dropped replayed span { traceId spanId name kind service startTime durationMs status { code message } attributes }';
const LOG_FIELDS = 'dropped replayed log { id time severity severityNumber severityText service bodyText body traceId spanId eventName attributes }';
const SEVERITIES = ['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR', 'FATAL'];

export interface TailIo {
  stdout: NodeJS.WritableStream & { isTTY?: boolean };
  stderr: NodeJS.WritableStream;
  env: NodeJS.ProcessEnv;
  /** Resolves when the user asks to stop (Ctrl-C). */
  interrupted: Promise<void>;
}

/** A usage error: exit code 2. */
export class TailUsageError extends Error {}

interface SpanOut {
  traceId: string;
  spanId: string;
  name: string;
  kind: string;
  service: string;
  startTime: string;
  durationMs: number;
  status: { code: string; message: string };
  attributes: Record<string, unknown>;
}
interface LogOut {
  id: string;
  time: string;
  severity: string | null;
  severityNumber: number;
  severityText: string;
  service: string;
  bodyText: string | null;
  body: unknown;
  traceId: string | null;
  spanId: string | null;
  eventName: string | null;
  attributes: Record<string, unknown>;
}

interface Parsed {
  url: string;
  headers: Record<string, string>;
  /** --ca: trusted for the TLS connection. */
  ca?: Buffer;
  tenant?: string;
  json: boolean;
  since?: string;
  /** --no-reconnect: a dropped connection ends the command. */
  noReconnect: boolean;
  spans?: Record<string, unknown>;
  logs?: Record<string, unknown>;
}

function parse(args: string[], env: NodeJS.ProcessEnv, now: () => number): Parsed {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    strict: true,
    options: {
      url: { type: 'string', default: env.TELEQL_URL || 'http://127.0.0.1:4000/graphql' },
      ca: { type: 'string' },
      tenant: { type: 'string' },
      header: { type: 'string', multiple: true, default: [] },
      json: { type: 'boolean', default: false },
      since: { type: 'string' },
      'no-reconnect': { type: 'boolean', default: false },
      service: { type: 'string', multiple: true, default: [] },
      name: { type: 'string', multiple: true, default: [] },
      status: { type: 'string', multiple: true, default: [] },
      'min-duration': { type: 'string' },
      severity: { type: 'string' },
      source: { type: 'string', multiple: true, default: [] },
      attr: { type: 'string', multiple: true, default: [] },
    },
  });
  for (const p of positionals) if (p !== 'spans' && p !== 'logs') throw new TailUsageError(`unknown signal "${p}": expected spans and/or logs`);
  const wantSpans = positionals.length === 0 || positionals.includes('spans');
  const wantLogs = positionals.length === 0 || positionals.includes('logs');

  const headers: Record<string, string> = {};
  for (const h of values.header) {
    const i = h.indexOf(':');
    if (i <= 0) throw new TailUsageError(`--header "${h}": expected "Name: value"`);
    headers[h.slice(0, i).trim()] = h.slice(i + 1).trim();
  }
  const token = env.TELEQL_TOKEN?.trim();
  if (token && !Object.keys(headers).some((k) => k.toLowerCase() === 'authorization')) headers.Authorization = `Bearer ${token}`;
  let ca: Buffer | undefined;
  if (values.ca !== undefined) {
    try {
      ca = readFileSync(values.ca);
    } catch (err) {
      throw new TailUsageError(`--ca "${values.ca}": cannot read it (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
    }
  }

  let url = values.url;
  if (!/^(https?|wss?):\/\//.test(url)) throw new TailUsageError(`--url "${url}": expected an http(s):// or ws(s):// URL`);
  url = url.replace(/^http/, 'ws');

  const common: Record<string, unknown> = {};
  if (values.service.length) common.service = values.service;
  if (values.name.length) common.name = values.name;
  if (values.source.length) common.telemetrySource = values.source;
  if (values.attr.length) {
    common.attributes = values.attr.map((a) => {
      const i = a.indexOf('=');
      if (i <= 0) throw new TailUsageError(`--attr "${a}": expected key=value`);
      return { key: a.slice(0, i), eq: a.slice(i + 1) };
    });
  }
  const spanOnly: Record<string, unknown> = {};
  if (values.status.length) {
    const codes = values.status.map((s) => s.toUpperCase());
    for (const c of codes) if (!['OK', 'ERROR', 'UNSET'].includes(c)) throw new TailUsageError(`--status "${c}": expected OK, ERROR or UNSET`);
    spanOnly.status = codes;
  }
  if (values['min-duration'] !== undefined) {
    // Checked here, so a typo is a usage error (exit 2), not the gateway's refusal (exit 1).
    const d = values['min-duration'];
    if (unitDurationNs(d) === undefined && !/^\d+(\.\d+)?$/.test(d)) throw new TailUsageError(`--min-duration "${d}": expected a duration such as 250ms, 1.5s or 2m`);
    spanOnly.minDuration = d;
  }
  const logOnly: Record<string, unknown> = {};
  if (values.severity !== undefined) {
    const s = values.severity.toUpperCase();
    if (SEVERITIES.includes(s)) logOnly.minSeverityLevel = s;
    else if (/^\d+$/.test(s) && Number(s) >= 1 && Number(s) <= 24) logOnly.minSeverity = Number(s);
    else throw new TailUsageError(`--severity "${values.severity}": expected ${SEVERITIES.join('|')} or a number from 1 to 24`);
  }
  if (!wantSpans && Object.keys(spanOnly).length) throw new TailUsageError('--status and --min-duration apply to spans, which are not tailed');
  if (!wantLogs && Object.keys(logOnly).length) throw new TailUsageError('--severity applies to logs, which are not tailed');
  // With no signal named, a flag of one signal only (--status, --severity…) picks that signal;
  // with both named, each such flag narrows its own signal.
  const implicit = positionals.length === 0;
  const hasSpanOnly = Object.keys(spanOnly).length > 0;
  const hasLogOnly = Object.keys(logOnly).length > 0;
  const spans = wantSpans && !(implicit && hasLogOnly && !hasSpanOnly) ? { ...common, ...spanOnly } : undefined;
  const logs = wantLogs && !(implicit && hasSpanOnly && !hasLogOnly) ? { ...common, ...logOnly } : undefined;

  let since: string | undefined;
  if (values.since !== undefined) {
    const ago = unitDurationNs(values.since);
    // "15m" is that long ago; else an RFC 3339 time, which the gateway parses (a bare "15" would
    // be read as epoch milliseconds: everything stored would replay).
    if (ago === undefined && !/^\d{4}-\d\d-\d\dT\d\d:\d\d/.test(values.since)) {
      throw new TailUsageError(`--since "${values.since}": expected an age such as 15m or 2h, or an RFC 3339 time such as 2026-12-04T10:00:00Z`);
    }
    since = ago === undefined ? values.since : new Date(now() - Number(ago / 1_000_000n)).toISOString();
  }
  return { url, headers, ...(ca && { ca }), tenant: values.tenant, json: values.json, since, noReconnect: values['no-reconnect'], spans, logs };
}

type Style = Parameters<typeof styleText>[0];

/** `GW_CODE: message`, without repeating a code the message already ends with. */
function gatewayError(error: unknown): string {
  const e = error as { message: string; extensions?: { code?: string } };
  const code = e.extensions?.code;
  return code && !e.message.endsWith(`(${code})`) ? `${code}: ${e.message}` : e.message;
}

export function painter(io: Pick<TailIo, 'stdout' | 'env'>): (style: Style, text: string) => string {
  const colour = io.stdout.isTTY === true && !io.env.NO_COLOR;
  // We decide about colour for the stream we write to; styleText would look at process.stdout.
  return colour ? (style, text) => styleText(style, text, { validateStream: false }) : (_style, text) => text;
}

const SEVERITY_STYLE: Record<string, Style> = { TRACE: 'gray', DEBUG: 'gray', INFO: 'green', WARN: 'yellow', ERROR: 'red', FATAL: 'redBright' };

function oneLine(text: string): string {
  return text.replace(/\s*\n\s*/g, ' ⏎ ');
}

/** Characters of an attribute value a line shows; `--json` has them all. */
const ATTRIBUTE_CHARS = 200;

/** An attribute value on one line, a long one (a prompt, a stack trace) cut with how much is left out. */
function attrValueText(v: unknown): string {
  const text = oneLine(typeof v === 'string' ? v : JSON.stringify(v));
  return text.length <= ATTRIBUTE_CHARS ? text : `${text.slice(0, ATTRIBUTE_CHARS)}…(+${(text.length - ATTRIBUTE_CHARS).toLocaleString('en-US')} chars)`;
}

function attrsText(attrs: Record<string, unknown>): string {
  return Object.entries(attrs)
    .map(([k, v]) => `${k}=${attrValueText(v)}`)
    .join(' ');
}

export function formatSpan(s: SpanOut, paint: (style: Style, text: string) => string): string {
  const status = s.status.code === 'ERROR' ? paint('red', `ERROR${s.status.message ? ` ${s.status.message}` : ''}`) : s.status.code === 'OK' ? paint('green', 'OK') : '';
  const parts = [
    paint('dim', s.startTime),
    paint('cyan', s.service),
    paint('bold', s.name),
    paint('yellow', `${s.durationMs.toFixed(s.durationMs < 10 ? 2 : 1)}ms`),
    status,
    paint('dim', `trace=${s.traceId} span=${s.spanId}`),
    attrsText(s.attributes),
  ];
  return parts.filter((p) => p !== '').join(' ');
}

export function formatLog(l: LogOut, paint: (style: Style, text: string) => string): string {
  const level = l.severity ?? (l.severityText || String(l.severityNumber));
  const body = l.bodyText ?? (l.body == null ? '' : JSON.stringify(l.body));
  const parts = [
    paint('dim', l.time),
    paint(SEVERITY_STYLE[l.severity ?? ''] ?? 'white', level.padEnd(5)),
    paint('cyan', l.service),
    oneLine(body),
    l.traceId ? paint('dim', `trace=${l.traceId}${l.spanId ? ` span=${l.spanId}` : ''}`) : '',
    attrsText(l.attributes),
  ];
  return parts.filter((p) => p !== '').join(' ');
}

/** Runs the command until Ctrl-C (0), a usage error (2), or the gateway refuses it, cannot be reached at start or, with --no-reconnect, goes away (1). */
export async function runTail(args: string[], io: TailIo, now: () => number = Date.now): Promise<number> {
  let opts: Parsed;
  try {
    opts = parse(args, io.env, now);
  } catch (err) {
    if (err instanceof TailUsageError || (err instanceof TypeError && 'code' in err && String(err.code).startsWith('ERR_PARSE_ARGS'))) {
      io.stderr.write(`teleql tail: ${err.message}\n\n${TAIL_USAGE}`);
      return 2;
    }
    throw err;
  }
  // Once connected, a connection the gateway or the network drops (a restart, a deploy) is opened
  // again until Ctrl-C, live only: the records ingested meanwhile are not shown, and stderr says so.
  // A first connection that fails, a refusal (credentials, a bad filter) or --no-reconnect ends the
  // command.
  let everConnected = false;
  // Attempts since the connection was last up: the wait before the next one doubles.
  let failures = 0;
  for (;;) {
    // --since replays once, on the first connection; a reconnection is live only.
    const vars = opts.since && !everConnected ? { since: opts.since } : {};
    const session = await tailSession(opts, io, vars, () => {
      if (everConnected) io.stderr.write(`teleql tail: reconnected to ${opts.url}; records ingested while disconnected are not shown\n`);
      everConnected = true;
      failures = 0;
    });
    if (session.how === 'interrupted') return 0;
    if (!everConnected || !session.lost || opts.noReconnect) {
      io.stderr.write(`teleql tail: ${session.failure ?? 'the gateway ended the subscription'}\n`);
      return 1;
    }
    const waitMs = Math.min(RECONNECT_MAX_MS, 1000 * 2 ** failures);
    if (failures++ === 0) io.stderr.write(`teleql tail: ${session.failure ?? 'connection lost'}; reconnecting (Ctrl-C to stop)\n`);
    const stop = await Promise.race([new Promise<'wait'>((r) => setTimeout(() => r('wait'), waitMs)), io.interrupted.then(() => 'interrupted' as const)]);
    if (stop === 'interrupted') return 0;
  }
}

/** The longest wait between reconnect attempts. */
const RECONNECT_MAX_MS = 10_000;

/** graphql-ws close codes of a connection the server or the network dropped, worth opening again. */
const LOST_CODES = new Set([1001, 1005, 1006, 1011, 1012, 1013, 1014]);

interface SessionEnd {
  how: 'interrupted' | 'ended';
  /** What ended it, said as the command's last line. */
  failure?: string;
  /** The connection was dropped (not refused, not a subscription error): worth opening again. */
  lost: boolean;
}

/** One connection and its subscriptions, until Ctrl-C or its end. */
async function tailSession(opts: Parsed, io: TailIo, vars: Record<string, unknown>, onConnected: () => void): Promise<SessionEnd> {
  const paint = painter(io);
  const headers = { ...opts.headers, ...(opts.tenant && { 'X-Scope-OrgID': opts.tenant }) };
  class HeaderWebSocket extends WebSocket {
    constructor(address: string | URL, protocols?: string | string[]) {
      super(address, protocols, { headers, ...(opts.ca && { ca: opts.ca }) });
    }
  }
  const write = (line: string) => io.stdout.write(`${line}\n`);
  const dropped = (n: number, what: string) => {
    if (n > 0 && !opts.json) write(paint('magenta', `… ${n} ${what} dropped (this terminal read slower than they arrived)`));
  };
  let failure: string | undefined;
  let lost = false;
  const client: Client = createClient({
    url: opts.url,
    webSocketImpl: HeaderWebSocket,
    connectionParams: { ...(opts.tenant && { 'X-Scope-OrgID': opts.tenant }) },
    retryAttempts: 0,
    lazy: false,
    // Reported through `on.error` below, once, as a line of our own.
    onNonLazyError: () => {},
    on: {
      connected: onConnected,
      closed: (e) => {
        const ev = e as { code?: number; reason?: string };
        if (ev.code === 1000) return;
        if (failure === undefined && (ev.code === undefined || LOST_CODES.has(ev.code))) lost = true;
        failure ??= `connection to ${opts.url} closed (${ev.code ?? '?'}${ev.reason ? `: ${ev.reason}` : ''})`;
      },
      error: (err) => {
        // A connection refused or reset after a restart began: the same as a dropped one.
        lost = true;
        failure ??= `cannot connect to ${opts.url}: ${(err as { message?: string }).message ?? String(err)}`;
      },
    },
  });

  const subs: Promise<void>[] = [];
  const follow = <T>(query: string, variables: Record<string, unknown>, onData: (d: T) => void) =>
    new Promise<void>((resolve) => {
      client.subscribe<T>(
        { query, variables },
        {
          next: (r) => {
            if (r.errors?.length) {
              failure ??= gatewayError(r.errors[0]);
            }
            if (r.data) onData(r.data as T);
          },
          error: (err) => {
            if (Array.isArray(err)) {
              failure ??= gatewayError(err[0]);
            } else failure ??= `${(err as { message?: string; reason?: string }).reason || (err as Error).message || String(err)}`;
            resolve();
          },
          complete: resolve,
        },
      );
    });

  if (opts.spans) {
    subs.push(
      follow<{ tailSpans: { dropped: number; replayed: boolean; span: SpanOut } }>(
        `subscription($filter: TelemetryFilter, $since: Timestamp) { tailSpans(filter: $filter, since: $since) { ${SPAN_FIELDS} } }`,
        { filter: opts.spans, ...vars },
        ({ tailSpans: e }) => {
          dropped(e.dropped, 'spans');
          write(opts.json ? JSON.stringify({ type: 'span', replayed: e.replayed, dropped: e.dropped, ...e.span }) : formatSpan(e.span, paint));
        },
      ),
    );
  }
  if (opts.logs) {
    subs.push(
      follow<{ tailLogs: { dropped: number; replayed: boolean; log: LogOut } }>(
        `subscription($filter: TelemetryFilter, $since: Timestamp) { tailLogs(filter: $filter, since: $since) { ${LOG_FIELDS} } }`,
        { filter: opts.logs, ...vars },
        ({ tailLogs: e }) => {
          dropped(e.dropped, 'log records');
          write(opts.json ? JSON.stringify({ type: 'log', replayed: e.replayed, dropped: e.dropped, ...e.log }) : formatLog(e.log, paint));
        },
      ),
    );
  }

  // Any subscription ending (error, or the gateway going away) ends the session.
  const ended = Promise.race(subs).then(() => 'ended' as const);
  const how = await Promise.race([ended, io.interrupted.then(() => 'interrupted' as const)]);
  await client.dispose();
  return { how, ...(failure !== undefined && { failure }), lost: lost && how === 'ended' };
}
