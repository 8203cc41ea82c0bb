// A rule's groupBy is checked as Alertmanager checks a route's group_by, through GraphQL and in the
// rules file alike: label names, each once, or `...` (group by all labels) alone. Found by QA
// (round 33, D3): `["..."]` and `["foo-bar"]` were taken, and grouped every alert into one group.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { buildApp, type App } from '../../src/app.ts';
import type { AlertEngine } from '../../src/alerting/engine.ts';
import { testConfig } from '../helpers/gateway.ts';
import { gql, gqlData } from '../helpers/graphql-client.ts';
import { waitFor } from '../helpers/wait-for.ts';

const CREATE = 'mutation($input: AlertRuleInput!) { createAlertRule(input: $input) { id groupBy } }';
const UPDATE = 'mutation($id: ID!, $input: AlertRuleInput!) { updateAlertRule(id: $id, input: $input) { id groupBy } }';
const ACME = { 'X-Scope-OrgID': 'acme' };
const rule = (groupBy: string[]) => ({ name: 'Quiet', kind: 'NO_DATA', groupBy });
const fileRule = (groupBy: string) => `rules:\n  - name: FileQuiet\n    tenant: acme\n    kind: NO_DATA\n    groupBy: ${groupBy}\n`;

const REFUSALS: [string[], string][] = [
  [['alertname', 'foo-bar'], 'rule.groupBy: "foo-bar" is not a label name: a label name must match [a-zA-Z_][a-zA-Z0-9_]* ("..." alone groups by all labels)'],
  [['http.route'], 'rule.groupBy: "http.route" is not a label name: a label name must match [a-zA-Z_][a-zA-Z0-9_]* ("..." alone groups by all labels)'],
  [['...', 'service'], 'rule.groupBy: "..." (group by all labels) must be the only entry (actual: ["...","service"])'],
  [['service', 'service'], 'rule.groupBy: "service" is listed twice'],
];

describe('alerting: groupBy names labels, or is "..." alone', () => {
  let app: App;
  let engine: AlertEngine;
  let graphqlUrl: string;
  let dir: string;
  let rulesFile: string;
  const logs: { msg?: string; error?: string }[] = [];

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'teleql-group-by-'));
    rulesFile = join(dir, 'rules.yaml');
    await writeFile(rulesFile, fileRule('[alertname]'));
    const logger = pino({ level: 'info' }, { write: (line: string) => void logs.push(JSON.parse(line) as { msg?: string; error?: string }) });
    app = buildApp(testConfig({ alerting: { tickMs: 0, rulesFile, reloadDebounceMs: 20 } }), { logger });
    await app.start();
    engine = app.internals.alerting()!;
    graphqlUrl = `http://${app.addresses().graphql}/graphql`;
  });
  after(async () => {
    await app?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test('createAlertRule and updateAlertRule refuse a groupBy that is not label names, or "..." with others', async () => {
    for (const [groupBy, message] of REFUSALS) {
      const res = await gql(graphqlUrl, CREATE, { input: rule(groupBy) }, ACME);
      assert.equal(res.errors?.[0]?.extensions?.code, 'GW_BAD_ARGUMENT', JSON.stringify(groupBy));
      assert.equal(res.errors[0]!.message, message);
    }
    const created = await gqlData<{ createAlertRule: { id: string; groupBy: string[] } }>(graphqlUrl, CREATE, { input: rule(['...']) }, ACME);
    assert.deepEqual(created.createAlertRule.groupBy, ['...']);
    for (const [groupBy, message] of REFUSALS) {
      const res = await gql(graphqlUrl, UPDATE, { id: created.createAlertRule.id, input: rule(groupBy) }, ACME);
      assert.equal(res.errors?.[0]?.message, message);
    }
    assert.deepEqual(engine.rule('acme', created.createAlertRule.id)?.groupBy, ['...'], 'the refused updates changed nothing');
    const updated = await gqlData<{ updateAlertRule: { groupBy: string[] } }>(graphqlUrl, UPDATE, { id: created.createAlertRule.id, input: rule(['tenant', 'alertname', 'service']) }, ACME);
    assert.deepEqual(updated.updateAlertRule.groupBy, ['tenant', 'alertname', 'service']);
  });

  test('the rules file is refused whole for such a groupBy, naming the rule', async () => {
    await writeFile(rulesFile, fileRule('[alertname, foo-bar]'));
    await waitFor(async () => logs.filter((l) => l.msg === 'alert rules file refused; the previous rules stay in force').length, (n) => n === 1, 'the reload refused');
    assert.equal(logs.at(-1)!.error, `${rulesFile}: rules[0] ("FileQuiet").groupBy: "foo-bar" is not a label name: a label name must match [a-zA-Z_][a-zA-Z0-9_]* ("..." alone groups by all labels)`);
    assert.deepEqual(engine.rule('acme', 'FileQuiet')?.groupBy, ['alertname'], 'the previous file rules stay in force');

    await writeFile(rulesFile, fileRule("['...']"));
    await waitFor(async () => engine.rule('acme', 'FileQuiet')?.groupBy.join(), (g) => g === '...', 'the file loaded');
  });
});
