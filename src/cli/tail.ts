// `teleql tail`: subscribes to a gateway over graphql-ws and prints spans and/or log records as
// they arrive, one line each: coloured for people (no colour when stdout is not a terminal,
// NO_COLOR is set or TERM is dumb), or one JSON object per line with --json. Filters are flags; the gateway
// checks them (a bad one ends the command with the gateway's error code). A connection dropped
// after it was up (a gateway restart) is opened again until Ctrl-C, unless --no-reconnect.
// Telemetry is untrusted text: a line shows its control characters escaped, never raw.
import { readFileSync } from 'node:fs';
import { validateHeaderName, validateHeaderValue } from 'node:http';
import { parseArgs, styleText } from 'node:util';
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import { unitDurationNs } from '../model/duration.ts';
import { printable } from '../model/printable.ts';
import { endpointWithoutCredentials } from '../url-credentials.ts';
import { formatTimestamp, parseTimestamp } from '../../resolvers/time.ts';

export const TAIL_USAGE = `usage: teleql tail [spans] [logs] [options]

Prints the tenant's spans and/or log records live. With neither named: both, unless only span
flags (--status, --kind, --min-duration, --max-duration) or only log flags (--severity,
--body-contains) are given, which pick theirs.

Options:
  --url URL             the gateway's GraphQL endpoint (http://127.0.0.1:4000/graphql; ws:// works too)
  --tenant ID           tenant (X-Scope-OrgID)
  --header 'K: V'       extra header on the WebSocket request (repeatable)
  --ca FILE             PEM CA certificate(s) to trust for https:// / wss:// (a private CA)
  --json                one JSON object per line: {"type":"span"|"log", …}
  --since TIME          replay stored records first: an age such as 15m or 2h, or an RFC 3339
                        time with an offset (2026-12-04T10:00:00Z)
  --no-reconnect        end when the connection drops (default: once connected, open it again
                        until Ctrl-C, saying on stderr that records in between are not shown)
  --service NAME        service.name (repeatable)
  --name NAME           span name / log event name (repeatable)
  --status CODE         spans: OK | ERROR | UNSET (repeatable)
  --min-duration DUR    spans: at least this long, e.g. 250ms
  --severity LEVEL      logs: at least TRACE|DEBUG|INFO|WARN|ERROR|FATAL, or a number 1–24
  --source NAME         telemetry.source (repeatable)
  --trace-id ID         trace ID, 32 hex digits (repeatable)
  --kind KIND           spans: SERVER | CLIENT | INTERNAL | PRODUCER | CONSUMER | UNSPECIFIED (repeatable)
  --max-duration DUR    spans: at most this long
  --body-contains TEXT  logs: the body holds this text (case-insensitive)
  --attr CONDITION      an attribute condition (repeatable, all must hold): KEY=VALUE, KEY!=VALUE,
                        KEY=~REGEX, KEY>N, KEY>=N, KEY<N, KEY<=N, KEY? (present), !KEY (absent)
  --filter JSON         any TelemetryFilter as JSON, e.g. '{"or":[{"status":["ERROR"]},{"minDuration":"1s"}]}';
                        the flags above are added to it (a field given both ways is refused)

Environment: TELEQL_URL (the --url default); TELEQL_TOKEN, an API key or JWT sent as
"Authorization: Bearer …" (kept out of the shell history and the process list, where a
--header would show it; an authorization --header wins).
`;

// What a text line shows (SpanLine, LogLine) and what --json prints: every field of the OTLP record,
// attributes as plain JSON. A line asks for only its own, so a large resource is not sent for it.
const SPAN_LINE_FIELDS = 'traceId spanId name service startTime durationMs status { code message } attributes';
const LOG_LINE_FIELDS = 'time severity severityNumber severityText service eventName bodyText body traceId spanId attributes';
const RESOURCE_FIELDS = 'resource { attributes droppedAttributesCount schemaUrl } scope { name version attributes droppedAttributesCount schemaUrl }';
const SPAN_JSON_FIELDS = `traceId spanId parentSpanId traceState flags name kind service startTime endTime durationMs durationNano status { code message } attributes droppedAttributesCount events { time name attributes droppedAttributesCount } droppedEventsCount links { traceId spanId traceState flags attributes droppedAttributesCount } droppedLinksCount ${RESOURCE_FIELDS}`;
const LOG_JSON_FIELDS = `id time observedTime severity severityNumber severityText service eventName bodyText body traceId spanId flags attributes droppedAttributesCount ${RESOURCE_FIELDS}`;
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

/** SPAN_LINE_FIELDS. */
interface SpanLine {
  traceId: string;
  spanId: string;
  name: string;
  service: string;
  startTime: string;
  durationMs: number;
  status: { code: string; message: string };
  attributes: Record<string, unknown>;
}
/** LOG_LINE_FIELDS. */
interface LogLine {
  time: string;
  severity: string | null;
  severityNumber: number;
  severityText: string;
  service: string;
  eventName: string | null;
  bodyText: string | null;
  body: unknown;
  traceId: string | null;
  spanId: string | null;
  attributes: Record<string, unknown>;
}

/** How long the client waits on the gateway; tests shorten them. */
export interface TailTiming {
  /** From opening a connection to the gateway's connection_ack (the WebSocket upgrade included). */
  connectMs: number;
  /** graphql-ws keepAlive: a ping this long after the connection opened or the last pong. */
  pingIntervalMs: number;
  /** Nothing heard from the gateway this long after a ping: it or the path to it is gone. */
  pongWaitMs: number;
}

export const TAIL_TIMING: TailTiming = { connectMs: 10_000, pingIntervalMs: 15_000, pongWaitMs: 10_000 };

interface Parsed {
  url: string;
  /** The URL as messages show it: without a user:password it may carry. */
  shownUrl: string;
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
      'trace-id': { type: 'string', multiple: true, default: [] },
      kind: { type: 'string', multiple: true, default: [] },
      'max-duration': { type: 'string' },
      'body-contains': { type: 'string' },
      filter: { type: 'string' },
    },
  });
  for (const p of positionals) if (p !== 'spans' && p !== 'logs') throw new TailUsageError(`unknown signal "${p}": expected spans and/or logs`);
  const wantSpans = positionals.length === 0 || positionals.includes('spans');
  const wantLogs = positionals.length === 0 || positionals.includes('logs');

  // Checked as Node checks them when it sends the request, where a bad one threw from inside ws.
  const headers: Record<string, string> = {};
  for (const h of values.header) {
    const i = h.indexOf(':');
    if (i <= 0) throw new TailUsageError(`--header ${JSON.stringify(h)}: expected "Name: value"`);
    const [name, value] = [h.slice(0, i).trim(), h.slice(i + 1).trim()];
    if (!validHeader(validateHeaderName, name)) throw new TailUsageError(`--header ${JSON.stringify(h)}: the name must be letters, digits and !#$%&'*+-.^_\`|~ only`);
    if (!validHeader(validateHeaderValue, name, value)) throw new TailUsageError(`--header ${JSON.stringify(h)}: the value must not contain line breaks or other control characters`);
    headers[name] = value;
  }
  const token = env.TELEQL_TOKEN?.trim();
  if (token && !Object.keys(headers).some((k) => k.toLowerCase() === 'authorization')) {
    // Not echoed: it is a secret.
    if (!validHeader(validateHeaderValue, 'authorization', `Bearer ${token}`)) throw new TailUsageError('TELEQL_TOKEN: the token must not contain line breaks or other control characters');
    headers.Authorization = `Bearer ${token}`;
  }
  if (values.tenant !== undefined && !validHeader(validateHeaderValue, 'x-scope-orgid', values.tenant)) {
    throw new TailUsageError(`--tenant ${JSON.stringify(values.tenant)}: must not contain line breaks or other control characters`);
  }
  let ca: Buffer | undefined;
  if (values.ca !== undefined) {
    try {
      ca = readFileSync(values.ca);
    } catch (err) {
      throw new TailUsageError(`--ca "${values.ca}": cannot read it (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
    }
  }

  let url = values.url;
  if (!/^(https?|wss?):\/\//.test(url) || !URL.canParse(url) || new URL(url).hash) throw new TailUsageError(`--url ${JSON.stringify(url)}: expected an http(s):// or ws(s):// URL without a #fragment`);
  url = url.replace(/^http/, 'ws');

  const common: Record<string, unknown> = {};
  if (values.service.length) common.service = values.service;
  if (values.name.length) common.name = values.name;
  if (values.source.length) common.telemetrySource = values.source;
  if (values['trace-id'].length) {
    for (const t of values['trace-id']) if (!/^[0-9a-fA-F]{32}$/.test(t)) throw new TailUsageError(`--trace-id "${t}": expected 32 hex digits`);
    common.traceId = values['trace-id'];
  }
  if (values.attr.length) common.attributes = values.attr.map(attributeCondition);
  const spanOnly: Record<string, unknown> = {};
  if (values.status.length) {
    const codes = values.status.map((s) => s.toUpperCase());
    for (const c of codes) if (!['OK', 'ERROR', 'UNSET'].includes(c)) throw new TailUsageError(`--status "${c}": expected OK, ERROR or UNSET`);
    spanOnly.status = codes;
  }
  if (values.kind.length) {
    const kinds = values.kind.map((k) => k.toUpperCase());
    for (const k of kinds) if (!SPAN_KINDS.includes(k)) throw new TailUsageError(`--kind "${k}": expected ${SPAN_KINDS.join(', ')}`);
    spanOnly.kind = kinds;
  }
  // Checked here, so a typo is a usage error (exit 2), not the gateway's refusal (exit 1).
  if (values['min-duration'] !== undefined) spanOnly.minDuration = durationFlag('--min-duration', values['min-duration']);
  if (values['max-duration'] !== undefined) spanOnly.maxDuration = durationFlag('--max-duration', values['max-duration']);
  const logOnly: Record<string, unknown> = {};
  if (values['body-contains'] !== undefined) logOnly.bodyContains = values['body-contains'];
  if (values.severity !== undefined) {
    const s = values.severity.toUpperCase();
    if (SEVERITIES.includes(s)) logOnly.minSeverityLevel = s;
    else if (/^\d+$/.test(s) && Number(s) >= 1 && Number(s) <= 24) logOnly.minSeverity = Number(s);
    else throw new TailUsageError(`--severity "${values.severity}": expected ${SEVERITIES.join('|')} or a number from 1 to 24`);
  }
  if (!wantSpans && Object.keys(spanOnly).length) throw new TailUsageError('--status, --kind, --min-duration and --max-duration apply to spans, which are not tailed');
  if (!wantLogs && Object.keys(logOnly).length) throw new TailUsageError('--severity and --body-contains apply to logs, which are not tailed');
  if (values.filter !== undefined) {
    let raw: unknown;
    try {
      raw = JSON.parse(values.filter);
    } catch (err) {
      throw new TailUsageError(`--filter: not JSON (${(err as Error).message})`);
    }
    if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw new TailUsageError('--filter: expected a JSON object (a TelemetryFilter)');
    // The gateway checks its fields (a wrong one is its GW_BAD_FILTER); the flags are added to it.
    for (const [k, v] of Object.entries(raw)) {
      if (k in common || k in spanOnly || k in logOnly) throw new TailUsageError(`--filter sets "${k}", which a flag sets too: give it one way`);
      common[k] = v;
    }
  }
  // With no signal named, a flag of one signal only (--status, --severity…) picks that signal;
  // with both named, each such flag narrows its own signal.
  const implicit = positionals.length === 0;
  const hasSpanOnly = Object.keys(spanOnly).length > 0;
  const hasLogOnly = Object.keys(logOnly).length > 0;
  const spans = wantSpans && !(implicit && hasLogOnly && !hasSpanOnly) ? { ...common, ...spanOnly } : undefined;
  const logs = wantLogs && !(implicit && hasSpanOnly && !hasLogOnly) ? { ...common, ...logOnly } : undefined;

  let since: string | undefined;
  if (values.since !== undefined) since = sinceTime(values.since, now);
  return { url, shownUrl: endpointWithoutCredentials(url), headers, ...(ca && { ca }), tenant: values.tenant, json: values.json, since, noReconnect: values['no-reconnect'], spans, logs };
}

const SPAN_KINDS = ['SERVER', 'CLIENT', 'INTERNAL', 'PRODUCER', 'CONSUMER', 'UNSPECIFIED'];

/** A duration flag's value as the gateway takes it (250ms, 1.5s, or nanoseconds as digits). */
function durationFlag(flag: string, d: string): string {
  if (unitDurationNs(d) === undefined && !/^\d+(\.\d+)?$/.test(d)) throw new TailUsageError(`${flag} "${d}": expected a duration such as 250ms, 1.5s or 2m`);
  return d;
}

// KEY<op>VALUE, the two-character operators first (`a>=1` is gte, not gt with value "=1").
const ATTR_CONDITION = /^([^=!<>~?]+?)(!=|=~|>=|<=|=|>|<)(.*)$/s;
const ATTR_OPS: Record<string, string> = { '=': 'eq', '!=': 'neq', '=~': 'regex', '>': 'gt', '>=': 'gte', '<': 'lt', '<=': 'lte' };

/** One --attr as an AttributeConditionInput. */
function attributeCondition(a: string): Record<string, unknown> {
  if (a.startsWith('!') && a.length > 1 && !/[=<>~]/.test(a)) return { key: a.slice(1), exists: false };
  if (a.endsWith('?') && a.length > 1 && !/[=<>~]/.test(a)) return { key: a.slice(0, -1), exists: true };
  const m = ATTR_CONDITION.exec(a);
  if (!m || m[1]!.trim() === '') throw new TailUsageError(`--attr "${a}": expected KEY=VALUE, KEY!=VALUE, KEY=~REGEX, KEY>N (>=, <, <=), KEY? or !KEY`);
  const [, key, op, value] = m as unknown as [string, string, string, string];
  const field = ATTR_OPS[op]!;
  if (field === 'gt' || field === 'gte' || field === 'lt' || field === 'lte') {
    const n = Number(value);
    if (value.trim() === '' || !Number.isFinite(n)) throw new TailUsageError(`--attr "${a}": ${op} needs a number`);
    return { key, [field]: n };
  }
  return { key, [field]: value };
}

/** Node's own header check, as a boolean. */
function validHeader(check: (name: string, value: string) => void, name: string, value = ''): boolean {
  try {
    check(name, value);
    return true;
  } catch {
    return false;
  }
}

/**
 * --since as the Timestamp to send: "15m" is that long ago; else an RFC 3339 time, checked by the
 * gateway's own parser so what passes here passes there (a bare "15", which the gateway reads as
 * epoch milliseconds, is refused: everything stored would replay).
 */
function sinceTime(value: string, now: () => number): string {
  const rule = 'expected an age such as 15m or 2h, or an RFC 3339 time with an offset such as 2026-12-04T10:00:00Z';
  const ago = unitDurationNs(value);
  if (ago !== undefined) {
    const ns = BigInt(now()) * 1_000_000n - ago;
    if (ns < 0n) throw new TailUsageError(`--since ${JSON.stringify(value)}: reaches back before 1970; ${rule}`);
    return formatTimestamp(ns);
  }
  if (!/^\d{4}-\d\d-\d\dT/.test(value)) throw new TailUsageError(`--since ${JSON.stringify(value)}: ${rule}`);
  try {
    parseTimestamp(value);
  } catch (err) {
    // The gateway's reason without its "Timestamp … is invalid" wrapping and code.
    const why = /is invalid: (.*?)(?: \(GW_\w+\))?$/.exec((err as Error).message)?.[1] ?? (err as Error).message;
    throw new TailUsageError(`--since ${JSON.stringify(value)}: ${why}; ${rule}`);
  }
  return value;
}

type Style = Parameters<typeof styleText>[0];

/** `GW_CODE: message`, without repeating a code the message already ends with. */
function gatewayError(error: unknown): string {
  const e = error as { message: string; extensions?: { code?: string } };
  const code = e.extensions?.code;
  return code && !e.message.endsWith(`(${code})`) ? `${code}: ${e.message}` : e.message;
}

export function painter(io: Pick<TailIo, 'stdout' | 'env'>): (style: Style, text: string) => string {
  // TERM=dumb: a terminal that shows escape sequences as text (Emacs' shell, some CI consoles).
  const colour = io.stdout.isTTY === true && !io.env.NO_COLOR && io.env.TERM !== 'dumb';
  // We decide about colour for the stream we write to; styleText would look at process.stdout.
  return colour ? (style, text) => styleText(style, text, { validateStream: false }) : (_style, text) => text;
}

const SEVERITY_STYLE: Record<string, Style> = { TRACE: 'gray', DEBUG: 'gray', INFO: 'green', WARN: 'yellow', ERROR: 'red', FATAL: 'redBright' };

/** Line breaks (CR, LF, CRLF, U+2028/9) with the spaces around them. */
/** Characters (code points) of an attribute value a line shows; `--json` has them all. */
const ATTRIBUTE_CHARS = 200;

/** An attribute value on one line, a long one (a prompt, a stack trace) cut with how much is left out. */
function attrValueText(v: unknown): string {
  const text = printable(typeof v === 'string' ? v : JSON.stringify(v));
  // Code points, so an emoji is never split in half; .length (UTF-16 units) is never fewer.
  if (text.length <= ATTRIBUTE_CHARS) return text;
  const chars = Array.from(text);
  return chars.length <= ATTRIBUTE_CHARS ? text : `${chars.slice(0, ATTRIBUTE_CHARS).join('')}…(+${(chars.length - ATTRIBUTE_CHARS).toLocaleString('en-US')} chars)`;
}

function attrsText(attrs: Record<string, unknown>): string {
  return Object.entries(attrs)
    .map(([k, v]) => `${printable(k)}=${attrValueText(v)}`)
    .join(' ');
}

export function formatSpan(s: SpanLine, paint: (style: Style, text: string) => string): string {
  const status = s.status.code === 'ERROR' ? paint('red', `ERROR${s.status.message ? ` ${printable(s.status.message)}` : ''}`) : s.status.code === 'OK' ? paint('green', 'OK') : '';
  const parts = [
    paint('dim', printable(s.startTime)),
    paint('cyan', printable(s.service)),
    paint('bold', printable(s.name)),
    paint('yellow', `${s.durationMs.toFixed(s.durationMs < 10 ? 2 : 1)}ms`),
    status,
    paint('dim', printable(`trace=${s.traceId} span=${s.spanId}`)),
    attrsText(s.attributes),
  ];
  return parts.filter((p) => p !== '').join(' ');
}

export function formatLog(l: LogLine, paint: (style: Style, text: string) => string): string {
  const level = l.severity ?? (l.severityText || String(l.severityNumber));
  const body = l.bodyText ?? (l.body == null ? '' : JSON.stringify(l.body));
  const parts = [
    paint('dim', printable(l.time)),
    paint(SEVERITY_STYLE[l.severity ?? ''] ?? 'white', printable(level).padEnd(5)),
    paint('cyan', printable(l.service)),
    // An OTel event (the Events API) is named by it, often with no body.
    l.eventName ? paint('bold', printable(l.eventName)) : '',
    printable(body),
    l.traceId ? paint('dim', printable(`trace=${l.traceId}${l.spanId ? ` span=${l.spanId}` : ''}`)) : '',
    attrsText(l.attributes),
  ];
  return parts.filter((p) => p !== '').join(' ');
}

/** Runs the command until Ctrl-C (0), a usage error (2), or the gateway refuses it, cannot be reached at start or, with --no-reconnect, goes away (1). */
export async function runTail(args: string[], io: TailIo, now: () => number = Date.now, timing: TailTiming = TAIL_TIMING): Promise<number> {
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
    const session = await tailSession(opts, io, vars, timing, () => {
      if (everConnected) io.stderr.write(`teleql tail: reconnected to ${opts.shownUrl}; records ingested while disconnected are not shown\n`);
      everConnected = true;
      failures = 0;
    });
    if (session.how === 'interrupted') return 0;
    if (!everConnected || !session.lost || opts.noReconnect) {
      io.stderr.write(`teleql tail: ${printable(session.failure ?? 'the gateway ended the subscription')}\n`);
      return 1;
    }
    const waitMs = Math.min(RECONNECT_MAX_MS, 1000 * 2 ** failures);
    if (failures++ === 0) io.stderr.write(`teleql tail: ${printable(session.failure ?? 'connection lost')}; reconnecting (Ctrl-C to stop)\n`);
    const stop = await Promise.race([new Promise<'wait'>((r) => setTimeout(() => r('wait'), waitMs)), io.interrupted.then(() => 'interrupted' as const)]);
    if (stop === 'interrupted') return 0;
  }
}

/** The longest wait between reconnect attempts. */
const RECONNECT_MAX_MS = 10_000;

/** graphql-ws close codes of a connection the server or the network dropped, worth opening again. */
const LOST_CODES = new Set([1001, 1005, 1006, 1011, 1012, 1013, 1014]);

/** graphql-ws' code for a connection its client terminated: ours, after saying why. */
const TERMINATED = 4499;

/**
 * How long a closing connection waits for the gateway's close frame (ws' closeTimeout, 30 s by
 * default): a gateway that stopped answering would hold the socket that long.
 */
const CLOSE_HANDSHAKE_MS = 2_000;

/** What to do about a credential the gateway refused; its close reason is all it says (no GW_* code). */
function refusalHint(code: number | undefined): string {
  if (code === 4401) return '; set TELEQL_TOKEN (or --header "Authorization: Bearer …") to an API key or JWT the gateway accepts';
  if (code === 4403) return '; the credential lacks the query scope, or --tenant names another tenant than the credential\'s';
  return '';
}

interface SessionEnd {
  how: 'interrupted' | 'ended';
  /** What ended it, said as the command's last line. */
  failure?: string;
  /** The connection was dropped (not refused, not a subscription error): worth opening again. */
  lost: boolean;
}

/** One connection and its subscriptions, until Ctrl-C or its end. */
async function tailSession(opts: Parsed, io: TailIo, vars: Record<string, unknown>, timing: TailTiming, onConnected: () => void): Promise<SessionEnd> {
  const paint = painter(io);
  const url = opts.shownUrl;
  const headers = { ...opts.headers, ...(opts.tenant && { 'X-Scope-OrgID': opts.tenant }) };
  // This session's socket once open, so one to a gateway that stopped answering is cut at once
  // (graphql-ws' terminate() closes it, which waits for the gateway's close frame).
  let socket: WebSocket | undefined;
  class HeaderWebSocket extends WebSocket {
    constructor(address: string | URL, protocols?: string | string[]) {
      super(address, protocols, { headers, ...(opts.ca && { ca: opts.ca }), ...({ closeTimeout: CLOSE_HANDSHAKE_MS } as object) });
      // graphql-ws takes its listeners off a socket it terminates; ws would then throw the error
      // of the aborted upgrade as uncaught.
      this.on('error', () => {});
    }
  }
  const write = (line: string) => io.stdout.write(`${line}\n`);
  const warn = (text: string) => io.stderr.write(`teleql tail: ${printable(text)}\n`);
  const dropped = (n: number, what: string) => {
    if (n > 0 && !opts.json) write(paint('magenta', `… ${n} ${what} dropped (this terminal read slower than they arrived)`));
  };
  let failure: string | undefined;
  let lost = false;
  // A subscription the gateway ended with an error (a bad filter, a limit): opening it again would
  // be refused again.
  let refused = false;
  let opened = false;
  let acked = false;
  // A message from the gateway since our last ping: it is there.
  let heard = false;
  let deadline: NodeJS.Timeout | undefined;
  const seconds = (ms: number) => `${ms / 1000} s`;

  /** Ends the connection now, as lost: a gateway that does not answer would not answer a close either. */
  const cut = (why: string) => {
    failure ??= why;
    lost = true;
    client.terminate();
    socket?.terminate();
  };
  /**
   * Cuts the connection after `ms` unless `alive()` says otherwise then. It is asked after the input
   * already waiting is read: a tail that was suspended (Ctrl-Z, a laptop asleep) finds its timers
   * due before it has read what the gateway sent meanwhile.
   */
  const cutUnless = (ms: number, alive: () => boolean, why: () => string) => {
    clearTimeout(deadline);
    deadline = setTimeout(() => setImmediate(() => alive() || cut(why())), ms);
  };

  const client: Client = createClient({
    url: opts.url,
    webSocketImpl: HeaderWebSocket,
    connectionParams: { ...(opts.tenant && { 'X-Scope-OrgID': opts.tenant }) },
    retryAttempts: 0,
    lazy: false,
    keepAlive: timing.pingIntervalMs,
    // Reported through `on.error` below, once, as a line of our own.
    onNonLazyError: () => {},
    on: {
      // A gateway that takes the TCP connection but never answers the upgrade or connection_init
      // (hung, or a proxy with no healthy backend) would hold the command forever. One deadline for
      // both, not graphql-ws' connectionAckWaitTimeout: that starts after the upgrade and closes
      // with a handshake the hung gateway would not answer either.
      connecting: () =>
        cutUnless(
          timing.connectMs,
          () => acked,
          () =>
            opened
              ? `${url} accepted the WebSocket but sent no connection_ack within ${seconds(timing.connectMs)}`
              : `no answer from ${url} to the WebSocket upgrade within ${seconds(timing.connectMs)}`,
        ),
      opened: (s) => {
        opened = true;
        socket = s as WebSocket;
      },
      connected: () => {
        clearTimeout(deadline);
        acked = true;
        onConnected();
      },
      message: () => (heard = true),
      // A frozen host or a network path gone without a FIN or RST leaves the socket open and silent.
      ping: (received) => {
        if (received) return;
        heard = false;
        cutUnless(
          timing.pongWaitMs,
          () => heard,
          () => `no answer from ${url} within ${seconds(timing.pongWaitMs)} of a ping: the gateway or the network to it stopped`,
        );
      },
      pong: (received) => {
        if (received) clearTimeout(deadline);
      },
      closed: (e) => {
        clearTimeout(deadline);
        acked = false;
        const ev = e as { code?: number; reason?: string };
        if (ev.code === 1000 || ev.code === TERMINATED) return;
        if (ev.code === undefined || LOST_CODES.has(ev.code)) lost = true;
        failure ??= `connection to ${url} closed (${ev.code ?? '?'}${ev.reason ? `: ${ev.reason}` : ''})${refusalHint(ev.code)}`;
      },
      error: (err) => {
        // A connection refused or reset after a restart began: the same as a dropped one.
        lost = true;
        const message = (err as { message?: string }).message ?? String(err);
        // A URL without the GraphQL path (http://host:4000): the port answers, the upgrade does not (QA round 38e).
        const hint = /Unexpected server response: (400|404)/.test(message) && /^[a-z]+:\/\/[^/?#]+\/?([?#].*)?$/i.test(url) ? ' (the URL has no path: the GraphQL path is /graphql by default, e.g. --url http://127.0.0.1:4000/graphql)' : '';
        failure ??= `cannot connect to ${url}: ${message}${hint}`;
      },
    },
  });

  /**
   * Follows one subscription until it ends. An event's errors are the refusal when the gateway then
   * completes the subscription (as it does when one cannot start), else said on stderr, and the
   * tail goes on.
   */
  const follow = <E>(field: string, query: string, variables: Record<string, unknown>, onEvent: (e: E) => void) =>
    new Promise<void>((resolve) => {
      let held: string | undefined;
      const sayHeld = () => {
        if (held !== undefined) warn(`${held} (an event was not shown)`);
        held = undefined;
      };
      client.subscribe<Record<string, E | null>>(
        { query, variables },
        {
          next: (r) => {
            sayHeld();
            const event = r.data?.[field];
            const error = r.errors?.length ? gatewayError(r.errors[0]) : undefined;
            if (event) onEvent(event);
            if (error !== undefined) {
              if (event) warn(error);
              else held = error;
            }
          },
          error: (err) => {
            sayHeld();
            if (Array.isArray(err)) {
              refused = true;
              failure ??= gatewayError(err[0]);
            } else failure ??= `${(err as { message?: string; reason?: string }).reason || (err as Error).message || String(err)}`;
            resolve();
          },
          complete: () => {
            if (held !== undefined) {
              refused = true;
              failure ??= held;
            }
            resolve();
          },
        },
      );
    });

  const subs: Promise<void>[] = [];
  if (opts.spans) {
    subs.push(
      follow<{ dropped: number; replayed: boolean; span: SpanLine }>(
        'tailSpans',
        `subscription($filter: TelemetryFilter, $since: Timestamp) { tailSpans(filter: $filter, since: $since) { dropped replayed span { ${opts.json ? SPAN_JSON_FIELDS : SPAN_LINE_FIELDS} } } }`,
        { filter: opts.spans, ...vars },
        (e) => {
          dropped(e.dropped, 'spans');
          write(opts.json ? JSON.stringify({ type: 'span', replayed: e.replayed, dropped: e.dropped, ...e.span }) : formatSpan(e.span, paint));
        },
      ),
    );
  }
  if (opts.logs) {
    subs.push(
      follow<{ dropped: number; replayed: boolean; log: LogLine }>(
        'tailLogs',
        `subscription($filter: TelemetryFilter, $since: Timestamp) { tailLogs(filter: $filter, since: $since) { dropped replayed log { ${opts.json ? LOG_JSON_FIELDS : LOG_LINE_FIELDS} } } }`,
        { filter: opts.logs, ...vars },
        (e) => {
          dropped(e.dropped, 'log records');
          write(opts.json ? JSON.stringify({ type: 'log', replayed: e.replayed, dropped: e.dropped, ...e.log }) : formatLog(e.log, paint));
        },
      ),
    );
  }

  // Any subscription ending (error, or the gateway going away) ends the session.
  const ended = Promise.race(subs).then(() => 'ended' as const);
  const how = await Promise.race([ended, io.interrupted.then(() => 'interrupted' as const)]);
  clearTimeout(deadline);
  // dispose() first waits for a connection being opened, which a hung gateway never finishes.
  if (acked) await client.dispose();
  else {
    client.terminate();
    socket?.terminate();
  }
  return { how, ...(failure !== undefined && { failure }), lost: lost && !refused && how === 'ended' };
}
