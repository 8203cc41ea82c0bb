// Notification delivery: one message per (receiver, group), in the receiver's own format, sent
// with retries and exponential backoff. The caller learns each delivery's outcome (for
// `lastNotificationError`); a failing receiver never blocks evaluation.
import type { Logger } from 'pino';
import { valueText } from './rules.ts';
import { alertmanagerFingerprint } from './silences.ts';
import type { AlertInstance } from './types.ts';
import { parseRetryAfter } from '../../ingest/exporters/helpers/settings.ts';
import { withoutCredentials } from '../url-credentials.ts';
import { headOf } from '../model/values.ts';
import { printable } from '../model/printable.ts';

export type ReceiverType = 'webhook' | 'slack' | 'alertmanager';

export interface ReceiverConfig {
  name: string;
  type: ReceiverType;
  /** webhook/slack: the URL posted to; alertmanager: its base URL (…/api/v2/alerts is appended). */
  url: string;
  headers?: Record<string, string>;
}

export interface RetryPolicy {
  /** Attempts in total, including the first. */
  attempts: number;
  initialBackoffMs: number;
  maxBackoffMs: number;
  timeoutMs: number;
}

export interface Notification {
  receiver: ReceiverConfig;
  tenant: string;
  groupKey: string;
  /** The rule's groupBy labels the group's alerts have, and `tenant` (groups never span tenants), as sentLabels gives them. */
  groupLabels: Record<string, string>;
  /** The firing alerts of the group (of every rule whose alerts it holds) and those resolved since the last message. */
  alerts: AlertInstance[];
  ruleIds: string[];
  /** Alertmanager only: how long after this message its firing alerts stay firing unless sent again (ns). */
  firingValidFor?: bigint;
}

/** Where the gateway is reached (alerting.externalUrl, graphql.path), for the links notifications carry. */
export interface GatewayLinks {
  /** '' = no links (generatorURL empty). */
  externalUrl: string;
  graphqlPath: string;
}

const iso = (ns: bigint | null) => (ns === null ? undefined : new Date(Number(ns / 1_000_000n)).toISOString());
// Alertmanager's "zero time" for a firing alert's endsAt.
const ZERO_TIME = '0001-01-01T00:00:00Z';

function common(alerts: AlertInstance[], pick: (a: AlertInstance) => Record<string, string>): Record<string, string> {
  const [first, ...rest] = alerts.map(pick);
  if (!first) return {};
  return Object.fromEntries(Object.entries(first).filter(([k, v]) => rest.every((o) => o[k] === v)));
}

/**
 * An alert's labels as receivers get them and silences match them: with `tenant`, which the gateway
 * sets because every tenant's alerts go to the same receivers. A label the alert has of that name
 * (a PromQL series', a rule's) is kept as `exported_tenant`, as Prometheus keeps a scraped label that
 * clashes with one of its own, so no alert can claim another tenant's name.
 */
export function sentLabels(tenant: string, labels: Record<string, string>): Record<string, string> {
  const { tenant: own, ...rest } = labels;
  return { ...rest, ...(own !== undefined && own !== tenant && { exported_tenant: own }), tenant };
}

const outgoingLabels = (a: AlertInstance) => sentLabels(a.tenant, a.labels);
/**
 * The annotations sent: the rule's, and `value` (the value as valueText writes it, as `{{ $value }}`
 * does), which Prometheus does not add; a rule's own `value` annotation is sent as it is instead.
 */
const outgoingAnnotations = (a: AlertInstance): Record<string, string> => ({
  ...(a.value !== null && { value: valueText(a.value) }),
  ...a.annotations,
});

/** Alertmanager's group key for a group: `{}:{alertname="Errors", service="checkout"}`, labels sorted. */
export function groupKey(labels: Record<string, string>): string {
  const pairs = Object.keys(labels)
    .sort()
    .map((k) => `${k}=${JSON.stringify(labels[k])}`);
  return `{}:{${pairs.join(', ')}}`;
}
const status = (a: AlertInstance) => (a.state === 'FIRING' ? 'firing' : 'resolved');

/** Alertmanager's webhook payload, version 4 (what Alertmanager itself posts to a webhook_config). */
export function webhookPayload(n: Notification, links: GatewayLinks): Record<string, unknown> {
  const firing = n.alerts.some((a) => a.state === 'FIRING');
  return {
    version: '4',
    groupKey: n.groupKey,
    truncatedAlerts: 0,
    status: firing ? 'firing' : 'resolved',
    receiver: n.receiver.name,
    groupLabels: n.groupLabels,
    commonLabels: common(n.alerts, outgoingLabels),
    commonAnnotations: common(n.alerts, outgoingAnnotations),
    externalURL: links.externalUrl,
    alerts: n.alerts.map((a) => ({
      status: status(a),
      labels: outgoingLabels(a),
      annotations: outgoingAnnotations(a),
      startsAt: iso(a.firedAt ?? a.activeAt),
      endsAt: a.state === 'FIRING' ? ZERO_TIME : iso(a.resolvedAt),
      generatorURL: generatorUrl(links, a),
      // Alertmanager's own ID of the label set (what its API and amtool show), not the engine's
      // per-rule ID: a tool can match this alert against Alertmanager's.
      fingerprint: alertmanagerFingerprint(outgoingLabels(a)),
    })),
  };
}

/**
 * The link to the alert's rule (Alertmanager shows it as "Source"): the gateway's GraphQL endpoint
 * with `query` set to the rule's `alertRule` query, which GraphiQL opens pre-filled (a plain GET
 * runs it). Rule IDs are per tenant, so the query names the tenant to send it as.
 */
export function generatorUrl(links: GatewayLinks, a: AlertInstance): string {
  if (!links.externalUrl) return '';
  const id = JSON.stringify(a.ruleId);
  const query =
    `# Alert rule ${id} of tenant ${JSON.stringify(a.tenant)}: run this as that tenant (its tenant header).\n` +
    `{ alertRule(id: ${id}) { name kind source lastEvaluatedAt lastEvaluationError lastNotificationError definition alerts { state labels value activeAt firedAt resolvedAt silencedBy } } }`;
  const path = `/${links.graphqlPath.replace(/^\/+/, '')}`;
  return `${links.externalUrl.replace(/\/+$/, '')}${path}?query=${encodeURIComponent(query)}`;
}

/**
 * Text for Slack's mrkdwn and `text`: `&`, `<` and `>` escaped as Slack asks, so rule text or a
 * label value from ingested data cannot ping `<!channel>` or disguise a link `<https://…|…>`.
 */
const slackEscape = (t: string): string => t.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

// Slack answers 400 (invalid_blocks) to a header over 150 characters or a section or context text
// over 3,000: a group of a few dozen alerts was not delivered at all.
const SLACK_HEADER_CHARS = 150;
const SLACK_TEXT_CHARS = 3000;
/** `t` in at most `max` UTF-16 units, cut with `…`; never half an emoji (a lone surrogate some decoders refuse). */
const clipped = (t: string, max: number): string => (t.length <= max ? t : `${headOf(t, max - 1)}…`);
/** As clipped, for escaped text: a cut never leaves half an entity (`&am…`). */
function clippedEscaped(t: string, max: number): string {
  if (t.length <= max) return t;
  let head = headOf(t, max - 1);
  const amp = head.lastIndexOf('&');
  if (amp >= 0 && !head.includes(';', amp)) head = head.slice(0, amp);
  return `${head}…`;
}

/** Alert lines joined in at most `max` characters: those that do not fit are counted in a last line (the first is cut if need be). */
function slackLines(lines: readonly string[], max: number): string {
  const shown: string[] = [];
  let length = 0;
  for (let i = 0; i < lines.length; i++) {
    const after = lines.length - i - 1;
    // Room kept for the count line, should the next line not fit.
    const tail = after > 0 ? `\n… and ${after} more`.length : 0;
    const line = shown.length === 0 ? clippedEscaped(lines[i]!, max - tail) : lines[i]!;
    const added = (shown.length > 0 ? 1 : 0) + line.length;
    if (shown.length > 0 && length + added + tail > max) return `${shown.join('\n')}\n… and ${lines.length - i} more`;
    shown.push(line);
    length += added;
  }
  return shown.join('\n');
}

/** A Slack incoming-webhook message: `text` for notifications, `blocks` for the channel, within Slack's limits. */
export function slackPayload(n: Notification): Record<string, unknown> {
  const firing = n.alerts.filter((a) => a.state === 'FIRING');
  const resolved = n.alerts.filter((a) => a.state !== 'FIRING');
  // A group can hold several rules' alerts (groupBy without alertname): the title names them all,
  // and each line its own.
  const names = [...new Set(n.alerts.map((a) => a.labels.alertname ?? 'alert'))];
  const title = printable(`${firing.length ? `[FIRING:${firing.length}]` : '[RESOLVED]'} ${names.length > 0 ? names.join(', ') : 'alert'}`);
  const line = (a: AlertInstance) => {
    // The tenant is in the message's context line. Values are shown on one line: a line break in
    // a label value from ingested data would start what reads as another alert's line.
    const labels = Object.entries(outgoingLabels(a))
      .filter(([k]) => (k !== 'alertname' || names.length > 1) && k !== 'tenant')
      .map(([k, v]) => slackEscape(printable(`${k}=${v}`)))
      .join(', ');
    const summary = a.annotations.summary ? ` — ${slackEscape(printable(a.annotations.summary))}` : '';
    const parts = [`• *${a.state === 'FIRING' ? 'firing' : 'resolved'}*`, labels, a.value !== null ? `(value ${valueText(a.value)})` : ''].filter((p) => p !== '');
    return `${parts.join(' ')}${summary}`;
  };
  return {
    // `text` is read as mrkdwn (escaped); a header is plain_text, shown as written.
    text: slackEscape(clipped(title, SLACK_TEXT_CHARS)),
    blocks: [
      { type: 'header', text: { type: 'plain_text', text: clipped(title, SLACK_HEADER_CHARS) } },
      { type: 'section', text: { type: 'mrkdwn', text: slackLines([...firing, ...resolved].map(line), SLACK_TEXT_CHARS) || '(no alerts)' } },
      { type: 'context', elements: [{ type: 'mrkdwn', text: clippedEscaped(slackEscape(printable(`tenant ${n.tenant} · group ${n.groupKey}`)), SLACK_TEXT_CHARS) }] },
    ],
  };
}

/** Alertmanager API v2 `POST /api/v2/alerts` body: a list of postable alerts. */
export function alertmanagerPayload(n: Notification, links: GatewayLinks, sentAtMs = Date.now()): Record<string, unknown>[] {
  // Wall-clock time, not the engine's: it is Alertmanager's clock that this bounds.
  const firingEndsAt = n.firingValidFor === undefined ? null : BigInt(sentAtMs) * 1_000_000n + n.firingValidFor;
  return n.alerts.map((a) => ({
    labels: outgoingLabels(a),
    annotations: outgoingAnnotations(a),
    startsAt: iso(a.firedAt ?? a.activeAt),
    // A firing alert ends at firingEndsAt unless it is sent again before (the engine re-sends it
    // every minute or evaluation, as Prometheus does); a resolved one ends at its resolve time.
    ...((a.state !== 'FIRING' || firingEndsAt !== null) && { endsAt: iso(a.state === 'FIRING' ? firingEndsAt : a.resolvedAt) }),
    generatorURL: generatorUrl(links, a),
  }));
}

/** fetch's "fetch failed" with what failed (`connect ECONNREFUSED 10.0.0.7:9093`) from its cause; URLs without credentials. */
function reasonOf(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  const cause = err instanceof Error && err.cause instanceof Error ? err.cause.message : '';
  return withoutCredentials(cause && !message.includes(cause) ? `${message}: ${cause}` : message);
}

export interface Notifier {
  /**
   * Delivers with retries; resolves with null on success or the last error's message. Never rejects.
   * Once `superseded` aborts (a newer message for the group is waiting), it makes no further attempt.
   */
  send(n: Notification, superseded?: AbortSignal): Promise<string | null>;
  /** Cuts retry waits short (at shutdown): deliveries in flight end after their current attempt. */
  close(): void;
}

/** The longest Retry-After a receiver gets honoured; a longer one is waited for this long. */
const MAX_RETRY_AFTER_MS = 300_000;

/**
 * A delivery the receiver answered with an error status. 4xx other than 408 and 429 are permanent
 * (a payload or URL the receiver refuses: Slack's invalid_blocks, no_service): sending it again
 * cannot help, as Alertmanager's notifiers reason too.
 */
class DeliveryError extends Error {
  readonly permanent: boolean;
  constructor(
    readonly status: number,
    message: string,
    readonly retryAfterMs: number,
  ) {
    super(message);
    this.permanent = status >= 400 && status < 500 && status !== 408 && status !== 429;
  }
}

/** A Retry-After header's wait in ms (seconds or an HTTP date), at most MAX_RETRY_AFTER_MS; 0 without one. */
const retryAfterMs = (header: string | null) => Math.min(parseRetryAfter(header) ?? 0, MAX_RETRY_AFTER_MS);

/** The most of a receiver's answer read (its error text is cut to 200 characters); the rest is cancelled. */
const MAX_RESPONSE_BYTES = 4096;

/**
 * The first `max` bytes of a response body as text; the rest is not read (the stream is cancelled),
 * so a receiver answering with a large or endless body costs neither memory nor time.
 */
async function responseStart(res: Response, max: number): Promise<string> {
  if (!res.body) return '';
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    while (size < max) {
      const { done, value } = await reader.read();
      if (done) return Buffer.concat(chunks).toString('utf8');
      chunks.push(value);
      size += value.byteLength;
    }
    return Buffer.concat(chunks).subarray(0, max).toString('utf8');
  } finally {
    await reader.cancel().catch(() => undefined);
  }
}

export function createNotifier(opts: { retry: RetryPolicy; links: GatewayLinks; logger: Logger; now?: () => number }): Notifier {
  const { retry, links, logger } = opts;
  const now = opts.now ?? Date.now;
  const closing = new AbortController();
  /**
   * Per receiver, the time (ms) its last Retry-After asked to wait until: every message to it waits
   * for it, across retry chains and evaluations (a rate limit is the receiver's, not a message's).
   */
  const notBefore = new Map<string, number>();

  function request(n: Notification): { url: string; body: unknown } {
    switch (n.receiver.type) {
      case 'webhook':
        return { url: n.receiver.url, body: webhookPayload(n, links) };
      case 'slack':
        return { url: n.receiver.url, body: slackPayload(n) };
      case 'alertmanager':
        return { url: `${n.receiver.url.replace(/\/+$/, '')}/api/v2/alerts`, body: alertmanagerPayload(n, links) };
    }
  }

  async function attempt(url: string, body: unknown, headers: Record<string, string>): Promise<void> {
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(retry.timeoutMs),
    });
    // A 2xx answer is read only as far as a small one goes (so the connection can be reused), as
    // Alertmanager drains it; an error's start is its message.
    const text = await responseStart(res, MAX_RESPONSE_BYTES).catch(() => '');
    if (!res.ok) throw new DeliveryError(res.status, `HTTP ${res.status}${text ? `: ${text.slice(0, 200)}` : ''}`, retryAfterMs(res.headers.get('retry-after')));
  }

  /** Waits `ms` unless the gateway stops or the message is superseded first. */
  function pause(ms: number, superseded: AbortSignal | undefined): Promise<void> {
    return new Promise<void>((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        closing.signal.removeEventListener('abort', done);
        superseded?.removeEventListener('abort', done);
        resolve();
      }
      closing.signal.addEventListener('abort', done);
      superseded?.addEventListener('abort', done);
    });
  }

  return {
    async send(n, superseded) {
      const { url, body } = request(n);
      const who = `${n.receiver.name} (${n.receiver.type})`;
      let lastError = '';
      const stopReason = (i: number) => {
        const last = lastError || `${who}: not sent, waiting for the Retry-After it answered`;
        return closing.signal.aborted ? `${last} (gave up after ${i} attempts: the gateway is stopping)`
          : superseded?.aborted ? `${last} (not retried after ${i} attempts: a newer message for the group replaces it)`
          : null;
      };
      for (let i = 0; i < retry.attempts; i++) {
        // Jitter spreads retries of many groups to one receiver; a receiver's Retry-After (Slack's
        // rate limit answers 429 with one) is waited for in full when longer, also by the first
        // attempt of a later message.
        const backoff = i === 0 ? 0 : Math.min(retry.maxBackoffMs, retry.initialBackoffMs * 2 ** (i - 1)) * (0.8 + Math.random() * 0.4);
        const wait = Math.max(backoff, (notBefore.get(n.receiver.name) ?? 0) - now());
        if (wait > 0) {
          const stop = stopReason(i);
          if (stop !== null) return stop;
          await pause(wait, superseded);
          const stopped = stopReason(i);
          if (stopped !== null) return stopped;
        }
        try {
          await attempt(url, body, n.receiver.headers ?? {});
          return null;
        } catch (err) {
          lastError = `${who}: ${reasonOf(err)}`;
          logger.warn({ receiver: n.receiver.name, attempt: i + 1, err: reasonOf(err) }, 'notification failed');
          if (err instanceof DeliveryError && err.retryAfterMs > 0) notBefore.set(n.receiver.name, Math.max(notBefore.get(n.receiver.name) ?? 0, now() + err.retryAfterMs));
          if (err instanceof DeliveryError && err.permanent) return `${lastError} (not retried: the receiver refused the request itself)`;
        }
      }
      return `${lastError} (after ${retry.attempts} attempts)`;
    },
    close: () => closing.abort(),
  };
}
