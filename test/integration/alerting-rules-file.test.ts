// The rules file next to rules created through the API: a name (the alertname of every
// notification) belongs to one source per tenant, a reload that would break that is refused like
// any invalid file, and every refused load shows on /metrics.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { buildApp, type App } from '../../src/app.ts';
import type { AlertEngine } from '../../src/alerting/engine.ts';
import { silentLogger } from '../../src/logger.ts';
import { testConfig } from '../helpers/gateway.ts';
import { gql, gqlData } from '../helpers/graphql-client.ts';
import { waitFor } from '../helpers/wait-for.ts';

const CREATE = 'mutation($input: AlertRuleInput!) { createAlertRule(input: $input) { id name source } }';
const UPDATE = 'mutation($id: ID!, $input: AlertRuleInput!) { updateAlertRule(id: $id, input: $input) { id name } }';
const ACME = { 'X-Scope-OrgID': 'acme' };
const noData = (name: string, extra: Record<string, unknown> = {}) => ({ input: { name, kind: 'NO_DATA', ...extra } });

const fileRule = (name: string, extra = '') => `  - name: ${name}\n    tenant: acme\n    kind: NO_DATA\n${extra}`;

/** The value of an unlabelled sample on /metrics, or undefined when it is not there. */
async function metric(graphqlUrl: string, name: string): Promise<number | undefined> {
  const text = await (await fetch(graphqlUrl.replace(/\/graphql$/, '/metrics'))).text();
  const m = new RegExp(`^${name} (\\S+)$`, 'm').exec(text);
  return m ? Number(m[1]) : undefined;
}

describe('alerting: rule names shared between the rules file and the API', () => {
  let app: App;
  let engine: AlertEngine;
  let graphqlUrl: string;
  let dir: string;
  let rulesFile: string;
  const logs: { msg?: string; error?: string }[] = [];
  const refusals = () => logs.filter((l) => l.msg?.startsWith('alert rules file refused')).map((l) => l.error ?? '');
  const fileRuleNames = () => engine.rules('acme').filter((r) => r.source === 'file').map((r) => r.name);

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'teleql-rule-names-'));
    rulesFile = join(dir, 'rules.yaml');
    await writeFile(rulesFile, `rules:\n${fileRule('CheckoutSilent')}`);
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

  test('an API rule cannot take the name or id of a file rule of its tenant; another tenant can', async () => {
    // Found by QA: createAlertRule accepted the name, and both rules then notified as alertname="CheckoutSilent".
    const sameName = await gql(graphqlUrl, CREATE, noData('CheckoutSilent', { id: 'mine' }), ACME);
    assert.equal(sameName.errors?.[0]?.extensions?.code, 'GW_BAD_ARGUMENT');
    assert.equal(
      sameName.errors![0]!.message,
      'rule.name: "CheckoutSilent" is the name of alert rule "CheckoutSilent" from the rules file (alerting.rulesFile); ' +
        'a rule created through the API cannot share its name (the alertname of its notifications) with a rule from the rules file. Choose another name',
    );
    const sameId = await gql(graphqlUrl, CREATE, noData('Other', { id: 'CheckoutSilent' }), ACME);
    assert.equal(sameId.errors![0]!.message, 'rule.id: an alert rule "CheckoutSilent" already exists (from the rules file)');

    const created = await gqlData<{ createAlertRule: { id: string } }>(graphqlUrl, CREATE, noData('CartSilent'), ACME);
    const renamed = await gql(graphqlUrl, UPDATE, { id: created.createAlertRule.id, ...noData('CheckoutSilent') }, ACME);
    assert.equal(renamed.errors?.[0]?.extensions?.code, 'GW_BAD_ARGUMENT');
    assert.match(renamed.errors![0]!.message, /^rule\.name: "CheckoutSilent" is the name of alert rule "CheckoutSilent" from the rules file/);
    assert.equal(engine.rule('acme', created.createAlertRule.id)?.name, 'CartSilent', 'the refused update changed nothing');

    // Rules of one source may share a name, as Prometheus' warning and critical rules of one alert do.
    await gqlData(graphqlUrl, CREATE, noData('CartSilent', { labels: { severity: 'page' } }), ACME);
    // The file rule is acme's: in another tenant the name is free.
    await gqlData(graphqlUrl, CREATE, noData('CheckoutSilent'), { 'X-Scope-OrgID': 'globex' });
    assert.deepEqual(engine.rules('acme').map((r) => `${r.name}/${r.source}`), ['CartSilent/api', 'CartSilent/api', 'CheckoutSilent/file']);
  });

  test('a reload that gives a file rule the name or id of an API rule is refused, counted on /metrics, and applied once the clash is gone', async () => {
    assert.equal(await metric(graphqlUrl, 'teleql_alerting_rules_file_reload_failures_total'), 0);
    assert.equal(await metric(graphqlUrl, 'teleql_alerting_rules_file_last_reload_successful'), 1);
    const loadedAt = await metric(graphqlUrl, 'teleql_alerting_rules_file_last_reload_success_timestamp_seconds');
    assert.ok(loadedAt! > Date.now() / 1000 - 600 && loadedAt! <= Date.now() / 1000, `loaded at start (${loadedAt})`);

    const api = await gqlData<{ createAlertRule: { id: string } }>(graphqlUrl, CREATE, noData('PaymentsSilent', { id: 'payments-silent' }), ACME);
    await writeFile(rulesFile, `rules:\n${fileRule('CheckoutSilent')}${fileRule('PaymentsSilent')}`);
    await waitFor(() => metric(graphqlUrl, 'teleql_alerting_rules_file_last_reload_successful'), (v) => v === 0, 'the reload refused');
    assert.equal(await metric(graphqlUrl, 'teleql_alerting_rules_file_reload_failures_total'), 1);
    assert.equal(
      refusals().at(-1),
      `${rulesFile}: rule "PaymentsSilent" (tenant "acme"): the name is already used by alert rule "payments-silent" created through the API; ` +
        'a rule from the rules file cannot share its name (the alertname of its notifications) with an API rule. ' +
        'Rename it in the rules file, or delete or rename the API rule (deleteAlertRule, updateAlertRule): the rules file is then loaded again',
    );
    assert.deepEqual(fileRuleNames(), ['CheckoutSilent'], 'the previous file rules stay in force');
    assert.equal(engine.rule('acme', 'payments-silent')?.source, 'api', 'the API rule is kept');

    // An ID clash is refused the same way (it used to drop the file rule with only a warning in the log).
    await writeFile(rulesFile, `rules:\n${fileRule('CheckoutSilent')}${fileRule('Payments', '    id: payments-silent\n')}`);
    await waitFor(() => metric(graphqlUrl, 'teleql_alerting_rules_file_reload_failures_total'), (v) => v === 2, 'the second reload refused');
    assert.match(refusals().at(-1)!, /: rule "Payments" \(tenant "acme"\): its id "payments-silent" is the id of alert rule "PaymentsSilent" created through the API\. Give it another id/);

    // The refused text is not read again at every change in its directory (a DuckDB file or log
    // next to it would repeat the error many times a second)...
    await writeFile(rulesFile, `rules:\n${fileRule('CheckoutSilent')}${fileRule('PaymentsSilent')}`);
    await waitFor(() => metric(graphqlUrl, 'teleql_alerting_rules_file_reload_failures_total'), (v) => v === 3, 'refused while the API rule exists');
    for (let i = 0; i < 3; i++) {
      await writeFile(join(dir, 'neighbour.log'), `line ${i}\n`);
      await new Promise((r) => setTimeout(r, 60));
    }
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(await metric(graphqlUrl, 'teleql_alerting_rules_file_reload_failures_total'), 3);
    // ...but once the API rule that took the name is gone, the file is loaded again by itself.
    await gqlData(graphqlUrl, 'mutation($id: ID!) { deleteAlertRule(id: $id) }', { id: api.createAlertRule.id }, ACME);
    await waitFor(async () => fileRuleNames().join(), (names) => names === 'CheckoutSilent,PaymentsSilent', 'the file loaded');
    assert.equal(await metric(graphqlUrl, 'teleql_alerting_rules_file_last_reload_successful'), 1);
    assert.ok((await metric(graphqlUrl, 'teleql_alerting_rules_file_last_reload_success_timestamp_seconds'))! >= loadedAt!);
  });

  test('a reload with PromQL the embedded store cannot evaluate, or a duration out of bounds, is refused whole naming the rule and what is wrong', async () => {
    // Found by QA: both were loaded, and the PromQL failed at every evaluation instead.
    const before = fileRuleNames();
    const failures = (await metric(graphqlUrl, 'teleql_alerting_rules_file_reload_failures_total'))!;
    const promql = `  - name: ErrorRatio\n    tenant: acme\n    kind: PROMQL\n    expr: sum(rate(errors_total[5m])) / sum(rate(requests_total[5m]))\n    threshold: 0.1\n`;
    await writeFile(rulesFile, `rules:\n${fileRule('CheckoutSilent')}${promql}`);
    await waitFor(() => metric(graphqlUrl, 'teleql_alerting_rules_file_reload_failures_total'), (v) => v === failures + 1, 'the PromQL reload refused');
    assert.match(
      refusals().at(-1)!,
      new RegExp(
        `^${rulesFile.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: rule "ErrorRatio"\\.expr: PromQL "sum\\(rate\\(errors_total\\[5m\\]\\)\\) / sum\\(rate\\(requests_total\\[5m\\]\\)\\)": ` +
          'the operator "/" is not supported; the embedded store evaluates only ',
      ),
    );
    assert.deepEqual(fileRuleNames(), before, 'the previous file rules stay in force');
    assert.equal(await metric(graphqlUrl, 'teleql_alerting_rules_file_last_reload_successful'), 0);

    await writeFile(rulesFile, `rules:\n${fileRule('CheckoutSilent')}${fileRule('Hasty', '    interval: 1ms\n')}`);
    await waitFor(() => metric(graphqlUrl, 'teleql_alerting_rules_file_reload_failures_total'), (v) => v === failures + 2, 'the interval reload refused');
    assert.equal(refusals().at(-1), `${rulesFile}: rules[1] ("Hasty").interval: expected a duration from 1s to 30d (actual: 1ms)`);
    await writeFile(rulesFile, `rules:\n${fileRule('CheckoutSilent')}${fileRule('Blind', '    window: 0s\n')}`);
    await waitFor(() => metric(graphqlUrl, 'teleql_alerting_rules_file_reload_failures_total'), (v) => v === failures + 3, 'the window reload refused');
    assert.equal(refusals().at(-1), `${rulesFile}: rules[1] ("Blind").window: expected a duration from 1s to 30d (actual: 0s)`);
    assert.deepEqual(fileRuleNames(), before);

    // Fixed, it loads.
    await writeFile(rulesFile, `rules:\n${fileRule('CheckoutSilent')}${fileRule('Hasty', '    interval: 1s\n')}`);
    await waitFor(async () => fileRuleNames().join(), (names) => names === 'CheckoutSilent,Hasty', 'the fixed file loaded');
  });

  test('a refused reload shows on the tenant\'s file rules in GraphQL (rulesFileError), with the reason only when it concerns that tenant\'s rule', async () => {
    // QA round 37: the refusal was only in the log and on /metrics, which a tenant cannot read.
    const GLOBEX = { 'X-Scope-OrgID': 'globex' };
    const globexRule = '  - name: GlobexQuiet\n    tenant: globex\n    kind: NO_DATA\n';
    const fileErrors = async (headers: Record<string, string>) =>
      (await gqlData<{ alertRules: { name: string; source: string; rulesFileError: string | null }[] }>(graphqlUrl, '{ alertRules { name source rulesFileError } }', {}, headers)).alertRules
        .filter((r) => r.source === 'FILE')
        .map((r) => [r.name, r.rulesFileError]);
    await writeFile(rulesFile, `rules:\n${fileRule('CheckoutSilent')}${globexRule}`);
    await waitFor(async () => (await fileErrors(GLOBEX)).length, (n) => n === 1, 'globex\'s file rule loaded');
    assert.deepEqual(await fileErrors(ACME), [['CheckoutSilent', null]]);

    const refusedAt = Date.now();
    await writeFile(rulesFile, `rules:\n${fileRule('CheckoutSilent', '    threshold: 5\n    operations: [GET /cart]\n')}${globexRule}`);
    const [[name, acmeError]] = (await waitFor(() => fileErrors(ACME), (rows) => rows[0]?.[1] != null, 'the refusal shown to acme')) as [[string, string]];
    assert.equal(name, 'CheckoutSilent', 'the rule as last loaded');
    const m = /^the rules file \(alerting\.rulesFile\) was changed and the change refused at (\S+), so this rule is as last loaded; (.*)$/.exec(acmeError);
    assert.ok(m, acmeError);
    assert.ok(Date.parse(m[1]!) >= refusedAt - 1000 && Date.parse(m[1]!) <= Date.now(), m[1]);
    assert.equal(m[2], `${rulesFile}: rules[0] ("CheckoutSilent").operations: a NO_DATA rule does not use operations (it reads signal, services, by, filter, metric); remove it`);
    // Globex's rule is as last loaded too, but the reason quotes acme's rule: globex is told only that.
    assert.deepEqual(await fileErrors(GLOBEX), [['GlobexQuiet', acmeError.replace(/; .*$/, "; the reason concerns the file as a whole or another tenant's rule: the gateway's log says it")]]);

    // An error about the file as a whole (its YAML may quote any tenant's rule) is shown to no tenant.
    await writeFile(rulesFile, `rules:\n${fileRule('CheckoutSilent')}  - name: [unclosed\n`);
    await waitFor(() => fileErrors(ACME), (rows) => rows[0]?.[1]?.endsWith("another tenant's rule: the gateway's log says it") === true, 'the YAML refusal');
    assert.match(refusals().at(-1)!, /not valid YAML/);

    await writeFile(rulesFile, `rules:\n${fileRule('CheckoutSilent')}`);
    await waitFor(() => fileErrors(ACME), (rows) => rows.length === 1 && rows[0]![1] === null, 'the fixed file loaded');
    assert.deepEqual(await fileErrors(GLOBEX), []);
  });
});

test('a rules file whose rule has the name of a stored API rule stops start-up with the error naming both', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'teleql-rule-names-'));
  const path = join(dir, 'alerts.duckdb');
  const rulesFile = join(dir, 'rules.yaml');
  try {
    const first = buildApp(testConfig({ alerting: { tickMs: 0 } }, path), { logger: silentLogger() });
    await first.start();
    try {
      await gqlData(`http://${first.addresses().graphql}/graphql`, CREATE, noData('CheckoutSilent', { id: 'api-rule' }), ACME);
    } finally {
      await first.stop();
    }
    await writeFile(rulesFile, `rules:\n${fileRule('CheckoutSilent')}`);
    const second = buildApp(testConfig({ alerting: { tickMs: 0, rulesFile } }, path), { logger: silentLogger() });
    try {
      await assert.rejects(second.start(), {
        name: 'ConfigError',
        message: `${rulesFile}: rule "CheckoutSilent" (tenant "acme"): the name is already used by alert rule "api-rule" created through the API; ` +
          'a rule from the rules file cannot share its name (the alertname of its notifications) with an API rule. ' +
          'Rename it in the rules file, or delete or rename the API rule (deleteAlertRule, updateAlertRule): the rules file is then loaded again',
      });
    } finally {
      await second.stop();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
