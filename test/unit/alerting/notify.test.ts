import { test } from 'node:test';
import assert from 'node:assert/strict';
import { alertmanagerPayload, groupKey, sentLabels, slackPayload, webhookPayload, type Notification } from '../../../src/alerting/notify.ts';
import type { AlertInstance } from '../../../src/alerting/types.ts';

const NO_LINKS = { externalUrl: '', graphqlPath: '/graphql' };
const T = 1_764_000_000_000_000_000n;
const alert = (over: Partial<AlertInstance>): AlertInstance => ({
  tenant: 'acme',
  ruleId: 'r1',
  fingerprint: 'abc',
  labels: { alertname: 'Errors', service: 'checkout', severity: 'page' },
  annotations: { summary: 'too many errors' },
  state: 'FIRING',
  value: 0.2,
  activeAt: T,
  firedAt: T + 300_000_000_000n,
  resolvedAt: null,
  lastEvaluatedAt: T + 300_000_000_000n,
  evidence: null,
  silencedBy: [],
  ...over,
});

const notification = (alerts: AlertInstance[]): Notification => ({
  receiver: { name: 'ops', type: 'webhook', url: 'http://x' },
  tenant: 'acme',
  groupKey: groupKey({ alertname: 'Errors' }),
  groupLabels: { alertname: 'Errors' },
  alerts,
  ruleIds: ['r1'],
});

test('the webhook payload has the fields of Alertmanager webhook version 4', () => {
  const p = webhookPayload(
    notification([alert({}), alert({ fingerprint: 'def', labels: { alertname: 'Errors', service: 'cart', severity: 'page' }, state: 'RESOLVED', resolvedAt: T + 600_000_000_000n })]),
    { externalUrl: 'http://gw:4000', graphqlPath: '/graphql' },
  );
  assert.deepEqual(Object.keys(p).sort(), ['alerts', 'commonAnnotations', 'commonLabels', 'externalURL', 'groupKey', 'groupLabels', 'receiver', 'status', 'truncatedAlerts', 'version']);
  assert.equal(p.version, '4');
  assert.equal(p.status, 'firing');
  assert.deepEqual(p.commonLabels, { alertname: 'Errors', severity: 'page', tenant: 'acme' });
  const [a, b] = p.alerts as Record<string, unknown>[];
  assert.deepEqual(Object.keys(a!).sort(), ['annotations', 'endsAt', 'fingerprint', 'generatorURL', 'labels', 'startsAt', 'status']);
  assert.equal(a!.startsAt, '2025-11-24T16:05:00.000Z');
  assert.equal(a!.endsAt, '0001-01-01T00:00:00Z');
  assert.equal(b!.status, 'resolved');
  assert.equal(b!.endsAt, '2025-11-24T16:10:00.000Z');
  assert.match(a!.generatorURL as string, /^http:\/\/gw:4000\/graphql\?query=/);
});

test('as Alertmanager writes them: the group key as a label set, and common annotations as each alert has them', () => {
  // The key was JSON ({}:{"alertname":"Errors"}); commonAnnotations left out the value annotation
  // each alert had, so one alert's annotations differed from the common ones.
  assert.equal(groupKey({ service: 'checkout "eu"', alertname: 'Errors' }), '{}:{alertname="Errors", service="checkout \\"eu\\""}');
  const p = webhookPayload(notification([alert({ value: 19.999999999999996 })]), NO_LINKS);
  const [a] = p.alerts as { annotations: Record<string, string> }[];
  assert.equal(a!.annotations.value, '20');
  assert.deepEqual(p.commonAnnotations, a!.annotations);
});

test('a value of ±Inf or NaN is sent as Prometheus writes it', () => {
  const p = webhookPayload(notification([alert({ value: Infinity }), alert({ fingerprint: 'n', value: NaN }), alert({ fingerprint: 'm', value: -Infinity })]), NO_LINKS);
  assert.deepEqual((p.alerts as { annotations: { value: string } }[]).map((a) => a.annotations.value), ['+Inf', 'NaN', '-Inf']);
  const slack = slackPayload(notification([alert({ value: Infinity })]));
  assert.match(JSON.stringify(slack), /\(value \+Inf\)/);
});

test('the Slack message has text and blocks', () => {
  const p = slackPayload(notification([alert({})])) as { text: string; blocks: { type: string; text?: { text: string } }[] };
  assert.equal(p.text, '[FIRING:1] Errors');
  assert.match(p.blocks[1]!.text!.text, /\*firing\* service=checkout, severity=page \(value 0\.2\) — too many errors/);
  // The value as the webhook and Alertmanager annotations have it, not 0.21951219512195122.
  const long = slackPayload(notification([alert({ value: 0.21951219512195122 })])) as { blocks: { text?: { text: string } }[] };
  assert.match(long.blocks[1]!.text!.text, /\(value 0\.219512\)/);
  // An alert with no labels but its name and tenant: one space between the parts, not two.
  const bare = slackPayload(notification([alert({ labels: { alertname: 'Errors' }, value: 0 })])) as { blocks: { text?: { text: string } }[] };
  assert.match(bare.blocks[1]!.text!.text, /^• \*firing\* \(value 0\) — too many errors/m);
});

test('the Slack message keeps within Slack’s limits (header 150, section 3,000 characters): a large group says how many alerts it leaves out', () => {
  // Slack answers 400 invalid_blocks past them, and the whole notification was lost.
  const many = Array.from({ length: 60 }, (_, i) =>
    alert({ fingerprint: `f${i}`, labels: { alertname: 'Errors', service: `service-number-${i}`, severity: 'page', region: 'eu-west-1' }, annotations: { summary: 'error rate over 5 % for 5 minutes' } }),
  );
  const p = slackPayload(notification(many)) as { text: string; blocks: { type: string; text?: { text: string }; elements?: { text: string }[] }[] };
  const section = p.blocks[1]!.text!.text;
  assert.ok(section.length <= 3000, `${section.length}`);
  const shown = section.split('\n').filter((l) => l.startsWith('•')).length;
  assert.ok(shown > 10 && shown < 60, `${shown}`);
  assert.ok(section.endsWith(`\n… and ${60 - shown} more`), section.slice(-60));
  const named = slackPayload(notification([alert({ labels: { alertname: 'E'.repeat(400) }, annotations: { summary: 's'.repeat(5000) } })])) as typeof p;
  assert.equal(named.blocks[0]!.text!.text.length, 150);
  assert.ok(named.blocks[1]!.text!.text.length <= 3000);
  assert.ok(named.blocks[2]!.elements![0]!.text.length <= 3000);
  // A small group is as before.
  assert.doesNotMatch((slackPayload(notification(many.slice(0, 3))) as typeof p).blocks[1]!.text!.text, /more$/);
});

test('Slack text escapes &, < and >, so an annotation or a label from ingested data cannot ping the channel or disguise a link', () => {
  // Found by security QA: a summary "<!channel> <https://evil.example|Reset your SSO password>" went out verbatim.
  const p = slackPayload(
    notification([alert({ labels: { alertname: 'Errors', service: '<!here>' }, annotations: { summary: '<!channel> <https://evil.example|Reset your SSO password> & *urgent*' } })]),
  ) as { blocks: { text?: { text: string } }[] };
  const body = p.blocks[1]!.text!.text;
  assert.doesNotMatch(body, /<!channel>|<!here>|<https:/);
  assert.match(body, /&lt;!channel&gt; &lt;https:\/\/evil\.example\|Reset your SSO password&gt; &amp; \*urgent\*/);
  assert.match(body, /service=&lt;!here&gt;/);
});

test('Slack (QA round 38): the plain_text header is not escaped, a group of several rules names each, a cut never halves an emoji or an entity, and a line break in a value starts no line', () => {
  type Payload = { text: string; blocks: { type: string; text?: { type: string; text: string }; elements?: { text: string }[] }[] };
  // A header is plain_text: Slack shows `&amp;` as written, so only mrkdwn text is escaped.
  const amp = slackPayload(notification([alert({ labels: { alertname: 'Latency & <errors> in checkout' } })])) as Payload;
  assert.equal(amp.blocks[0]!.text!.text, '[FIRING:1] Latency & <errors> in checkout');
  assert.equal(amp.text, '[FIRING:1] Latency &amp; &lt;errors&gt; in checkout');
  // Two rules in one group (groupBy: [service]): both named in the title, each line says whose it is.
  const two = slackPayload(
    notification([alert({ labels: { alertname: 'CheckoutErrorsLogged', service: 'checkout' } }), alert({ fingerprint: 'g', labels: { alertname: 'CheckoutLogFlood', service: 'checkout' }, value: 30 })]),
  ) as Payload;
  assert.equal(two.blocks[0]!.text!.text, '[FIRING:2] CheckoutErrorsLogged, CheckoutLogFlood');
  assert.match(two.blocks[1]!.text!.text, /^• \*firing\* alertname=CheckoutErrorsLogged, service=checkout \(value 0\.2\)/m);
  assert.match(two.blocks[1]!.text!.text, /^• \*firing\* alertname=CheckoutLogFlood, service=checkout \(value 30\)/m);
  // Cuts: by whole characters (no lone surrogate), and never inside an escaped entity.
  const emoji = slackPayload(notification([alert({ labels: { alertname: `${'x'.repeat(137)}🔥🔥🔥🔥` }, annotations: { summary: `${'y'.repeat(2960)}${'🔥'.repeat(40)}` } })])) as Payload;
  for (const text of [emoji.text, emoji.blocks[0]!.text!.text, emoji.blocks[1]!.text!.text]) assert.ok((text as unknown as { isWellFormed(): boolean }).isWellFormed(), JSON.stringify(text.slice(-8)));
  assert.ok(emoji.blocks[0]!.text!.text.length <= 150);
  const entities = slackPayload(notification([alert({ annotations: { summary: '&'.repeat(3000) } })])) as Payload;
  assert.match(entities.blocks[1]!.text!.text, /(&amp;)+…$/);
  // A label value with a line break (from ingested data) stays on its alert's line.
  const forged = slackPayload(notification([alert({ labels: { alertname: 'Errors', service: 'checkout\n• *resolved* service=payments' } })])) as Payload;
  assert.equal(forged.blocks[1]!.text!.text.split('\n').length, 1, forged.blocks[1]!.text!.text);
  assert.match(forged.blocks[1]!.text!.text, /service=checkout ⏎ • \*resolved\* service=payments/);
});

test('Alertmanager gets postable alerts; a resolved one ends at its resolve time, a firing one when it would expire unless sent again', () => {
  const [firing, resolved] = alertmanagerPayload(notification([alert({}), alert({ state: 'RESOLVED', resolvedAt: T + 600_000_000_000n })]), NO_LINKS);
  assert.equal('endsAt' in firing!, false);
  const sentAt = Date.parse('2026-12-04T10:00:00Z');
  const [renewed] = alertmanagerPayload({ ...notification([alert({})]), firingValidFor: 240_000_000_000n }, NO_LINKS, sentAt);
  assert.equal(renewed!.endsAt, '2026-12-04T10:04:00.000Z', 'wall-clock time of sending + firingValidFor');
  assert.equal(resolved!.endsAt, '2025-11-24T16:10:00.000Z');
  assert.deepEqual(firing!.labels, { alertname: 'Errors', service: 'checkout', severity: 'page', tenant: 'acme' });
});

test('every receiver gets the tenant label; an alert’s own tenant label is kept as exported_tenant, never sent as the tenant', () => {
  const claiming = alert({ labels: { alertname: 'Errors', service: 'checkout', tenant: 'globex' } });
  const expected = { alertname: 'Errors', service: 'checkout', exported_tenant: 'globex', tenant: 'acme' };
  assert.deepEqual(sentLabels('acme', claiming.labels), expected);
  assert.deepEqual(sentLabels('acme', { alertname: 'Errors', tenant: 'acme' }), { alertname: 'Errors', tenant: 'acme' }, 'the same value is not repeated');
  const webhook = webhookPayload(notification([claiming]), NO_LINKS);
  assert.deepEqual((webhook.alerts as { labels: unknown }[])[0]!.labels, expected);
  assert.equal((webhook.commonLabels as Record<string, string>).tenant, 'acme');
  assert.deepEqual(alertmanagerPayload(notification([claiming]), NO_LINKS)[0]!.labels, expected);
  const slack = slackPayload(notification([claiming])) as { blocks: { text?: { text: string }; elements?: { text: string }[] }[] };
  assert.match(slack.blocks[1]!.text!.text, /^• \*firing\* service=checkout, exported_tenant=globex \(value 0\.2\)/);
  assert.match(slack.blocks[2]!.elements![0]!.text, /^tenant acme · /);
});

test('deliveries retry with backoff until one succeeds, and give up early when the gateway stops', async () => {
  const { startWebhookServer } = await import('../../helpers/webhook-server.ts');
  const { createNotifier } = await import('../../../src/alerting/notify.ts');
  const { silentLogger } = await import('../../../src/logger.ts');
  const { waitFor } = await import('../../helpers/wait-for.ts');
  const hook = await startWebhookServer();
  try {
    const quick = createNotifier({ retry: { attempts: 4, initialBackoffMs: 5, maxBackoffMs: 20, timeoutMs: 5000 }, links: NO_LINKS, logger: silentLogger() });
    hook.failNext(500, 503);
    const n = { ...notification([alert({})]), receiver: { name: 'ops', type: 'webhook' as const, url: `${hook.url}/x` } };
    assert.equal(await quick.send(n), null);
    assert.equal(hook.received.length, 3);

    // A long backoff, cut short by close(): one attempt, then the reason.
    hook.alwaysAnswer(503);
    const slow = createNotifier({ retry: { attempts: 5, initialBackoffMs: 60_000, maxBackoffMs: 60_000, timeoutMs: 5000 }, links: NO_LINKS, logger: silentLogger() });
    const result = slow.send(n);
    await waitFor(async () => hook.received.length, (c) => c === 4, 'the first attempt');
    slow.close();
    assert.equal(await result, 'ops (webhook): HTTP 503: failing with 503 (gave up after 1 attempts: the gateway is stopping)');
  } finally {
    await hook.close();
  }
});

test("a receiver's Retry-After is waited for, and a 4xx it answers is not sent again (Slack's rate limit answers 429 with Retry-After; invalid_blocks is 400)", async () => {
  const { startWebhookServer } = await import('../../helpers/webhook-server.ts');
  const { createNotifier } = await import('../../../src/alerting/notify.ts');
  const { silentLogger } = await import('../../../src/logger.ts');
  const hook = await startWebhookServer();
  try {
    // Backoff alone would retry 3 times within ~30 ms and give up while the receiver still refuses.
    const notifier = createNotifier({ retry: { attempts: 3, initialBackoffMs: 5, maxBackoffMs: 20, timeoutMs: 5000 }, links: NO_LINKS, logger: silentLogger() });
    const n = { ...notification([alert({})]), receiver: { name: 'team', type: 'slack' as const, url: `${hook.url}/services/T/B/X` } };
    hook.failNext({ status: 429, headers: { 'retry-after': '1' } });
    const started = Date.now();
    assert.equal(await notifier.send(n), null);
    assert.equal(hook.received.length, 2);
    assert.ok(Date.now() - started >= 1000, 'the second attempt waited for Retry-After');

    hook.failNext(400);
    assert.equal(await notifier.send(n), 'team (slack): HTTP 400: failing with 400 (not retried: the receiver refused the request itself)');
    assert.equal(hook.received.length, 3, 'one attempt');
    hook.failNext(408, 500);
    assert.equal(await notifier.send(n), null, '408 and 5xx are retried');
    assert.equal(hook.received.length, 6);
  } finally {
    await hook.close();
  }
});

test('the webhook fingerprint is Alertmanager’s fingerprint of the labels as sent (FNV-1a 64), the value Alertmanager itself gives the same alert', async () => {
  // QA round 27 (D6): the real Alertmanager 0.25 posted c7ae0b8c011c3b01 for this alert, teleql a hash of its rule ID and labels.
  const { alertmanagerFingerprint } = await import('../../../src/alerting/silences.ts');
  assert.equal(alertmanagerFingerprint({ tenant: 'pq3', severity: 'warn', http_route: '/a', alertname: 'AmRaw' }), 'c7ae0b8c011c3b01');
  // Alertmanager's empty label set: the FNV-64 offset basis.
  assert.equal(alertmanagerFingerprint({}), 'cbf29ce484222325');
  const p = webhookPayload(
    { ...notification([alert({ tenant: 'pq3', fingerprint: 'rule-scoped-id', labels: { alertname: 'AmRaw', http_route: '/a', severity: 'warn' } })]), tenant: 'pq3' },
    NO_LINKS,
  );
  assert.equal((p.alerts as { fingerprint: string }[])[0]!.fingerprint, 'c7ae0b8c011c3b01');
});

test('the value annotation does not replace a rule’s own annotation of that name', () => {
  const [a] = webhookPayload(notification([alert({ value: 3, annotations: { value: 'mine' } })]), NO_LINKS).alerts as { annotations: Record<string, string> }[];
  assert.equal(a!.annotations.value, 'mine');
  const [posted] = alertmanagerPayload(notification([alert({ value: 3, annotations: { value: 'mine' } })]), NO_LINKS);
  assert.equal((posted!.annotations as Record<string, string>).value, 'mine');
  const [own] = webhookPayload(notification([alert({ value: 1.2e-7, annotations: {} })]), NO_LINKS).alerts as { annotations: Record<string, string> }[];
  assert.equal(own!.annotations.value, '1.2e-7');
});

test('a delivery whose group has a newer message makes no further attempt once superseded', async () => {
  const { createServer } = await import('node:http');
  const { silentLogger } = await import('../../../src/logger.ts');
  const { createNotifier } = await import('../../../src/alerting/notify.ts');
  let requests = 0;
  const server = createServer((req, res) => {
    requests++;
    req.resume();
    res.writeHead(503).end('busy');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  try {
    // A backoff of a minute: the message would wait in it but for the newer one.
    const notifier = createNotifier({ retry: { attempts: 5, initialBackoffMs: 60_000, maxBackoffMs: 60_000, timeoutMs: 5000 }, links: NO_LINKS, logger: silentLogger() });
    const superseded = new AbortController();
    const n = { ...notification([alert({})]), receiver: { name: 'ops', type: 'webhook' as const, url: `http://127.0.0.1:${port}/` } };
    const sending = notifier.send(n, superseded.signal);
    while (requests === 0) await new Promise((r) => setTimeout(r, 5));
    superseded.abort();
    assert.match((await sending)!, /^ops \(webhook\): HTTP 503: busy \(not retried after 1 attempts: a newer message for the group replaces it\)$/);
    assert.equal(requests, 1);
  } finally {
    server.close();
  }
});

test('generatorURL opens the rule: graphql.path with an alertRule query for it, naming its tenant', () => {
  // QA round 29 (D9): /graphql?alertRule=r1 was read by nothing, named no tenant and ignored graphql.path.
  const p = webhookPayload(notification([alert({ ruleId: 'Checkout "eu"' })]), { externalUrl: 'https://teleql.example/base/', graphqlPath: '/api/gql' });
  const url = new URL((p.alerts as { generatorURL: string }[])[0]!.generatorURL);
  assert.equal(`${url.origin}${url.pathname}`, 'https://teleql.example/base/api/gql');
  const query = url.searchParams.get('query')!;
  assert.match(query, /^# Alert rule "Checkout \\"eu\\"" of tenant "acme"/);
  assert.match(query, /\{ alertRule\(id: "Checkout \\"eu\\""\) \{ name /);
  const links = { externalUrl: 'https://teleql.example', graphqlPath: 'graphql' };
  const hook = (webhookPayload(notification([alert({})]), links).alerts as { generatorURL: string }[])[0]!.generatorURL;
  assert.match(hook, /^https:\/\/teleql\.example\/graphql\?query=/);
  assert.equal(alertmanagerPayload(notification([alert({})]), links)[0]!.generatorURL, hook, 'Alertmanager gets the same link');
  assert.equal((webhookPayload(notification([alert({})]), NO_LINKS).alerts as { generatorURL: string }[])[0]!.generatorURL, '', 'no externalUrl, no link');
});

test('a receiver answering with an endless body is not read to its end: a 2xx counts as delivered, an error keeps its first characters', async () => {
  // QA round 29 (D7): the whole body was read into memory (a 200 MiB answer took the gateway from 195 to 728 MB).
  const { createServer } = await import('node:http');
  const { silentLogger } = await import('../../../src/logger.ts');
  const { createNotifier } = await import('../../../src/alerting/notify.ts');
  let status = 200;
  let closed = 0;
  const server = createServer((req, res) => {
    req.resume();
    res.writeHead(status, { 'content-type': 'text/plain' });
    const chunk = Buffer.alloc(64 * 1024, 'x');
    // Endless: written whenever the socket can take more, until the client goes.
    const pump = () => {
      while (!res.destroyed && res.write(chunk));
    };
    res.on('drain', pump);
    res.on('close', () => closed++);
    pump();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  try {
    // Reading it whole would end only at timeoutMs, as a timeout error.
    const notifier = createNotifier({ retry: { attempts: 1, initialBackoffMs: 5, maxBackoffMs: 5, timeoutMs: 3000 }, links: NO_LINKS, logger: silentLogger() });
    const n = { ...notification([alert({})]), receiver: { name: 'ops', type: 'webhook' as const, url: `http://127.0.0.1:${port}/` } };
    assert.equal(await notifier.send(n), null);
    status = 500;
    assert.equal(await notifier.send(n), `ops (webhook): HTTP 500: ${'x'.repeat(200)} (after 1 attempts)`);
    while (closed < 2) await new Promise((r) => setTimeout(r, 5));
  } finally {
    server.closeAllConnections();
    server.close();
  }
});

test("a receiver's Retry-After holds back its next message too, not only the retries of the one it answered", async () => {
  // QA round 29 (D8): the last attempt of a chain got Retry-After: 10, and the next evaluation's chain sent 16 ms later.
  const { startWebhookServer } = await import('../../helpers/webhook-server.ts');
  const { createNotifier } = await import('../../../src/alerting/notify.ts');
  const { silentLogger } = await import('../../../src/logger.ts');
  const hook = await startWebhookServer();
  const at: number[] = [];
  try {
    const notifier = createNotifier({ retry: { attempts: 1, initialBackoffMs: 5, maxBackoffMs: 20, timeoutMs: 5000 }, links: NO_LINKS, logger: silentLogger() });
    const n = { ...notification([alert({})]), receiver: { name: 'team', type: 'slack' as const, url: `${hook.url}/services/T/B/X` } };
    hook.failNext({ status: 429, headers: { 'retry-after': '1' } });
    at.push(Date.now());
    assert.match((await notifier.send(n))!, /HTTP 429/);
    assert.equal(await notifier.send(n), null);
    at.push(Date.now());
    assert.equal(hook.received.length, 2);
    assert.ok(at[1]! - at[0]! >= 1000, `the next message waited for the Retry-After (${at[1]! - at[0]!} ms)`);

    // Closing cuts such a wait short: the message is not sent.
    hook.failNext({ status: 429, headers: { 'retry-after': '60' } });
    assert.match((await notifier.send(n))!, /HTTP 429/);
    const waiting = notifier.send(n);
    notifier.close();
    assert.match((await waiting)!, /gateway is stopping/);
    assert.equal(hook.received.length, 3);
  } finally {
    await hook.close();
  }
});
