// Alerting's own tables in the DuckDB file: API-created rules, current alert instances (one row per
// rule + label set), the state-change history, and silences. Tenant is the first column of each,
// and every statement binds it (or loads all tenants once at start-up).
import { nonFiniteText, parseStoredRule, ruleToPlain } from '../../alerting/rules.ts';
import { AlertingError } from '../../alerting/types.ts';
import type { AlertInstance, AlertRule, AlertState, AlertStore, AlertTransition, Silence } from '../../alerting/types.ts';
import type { Db } from './connection.ts';
import { params, timeRangeSql } from './filter-sql.ts';
import { MAX_STORED_CHARS, storedText } from './long-values.ts';

const DDL = [
  `CREATE TABLE IF NOT EXISTS alert_rules (
     tenant VARCHAR NOT NULL, id VARCHAR NOT NULL, definition VARCHAR NOT NULL, updated_ns BIGINT NOT NULL,
     PRIMARY KEY (tenant, id))`,
  `CREATE TABLE IF NOT EXISTS alert_instances (
     tenant VARCHAR NOT NULL, fingerprint VARCHAR NOT NULL, rule_id VARCHAR NOT NULL, state VARCHAR NOT NULL,
     active_ns BIGINT, fired_ns BIGINT, resolved_ns BIGINT, body VARCHAR NOT NULL,
     PRIMARY KEY (tenant, fingerprint))`,
  `CREATE TABLE IF NOT EXISTS alert_history (
     tenant VARCHAR NOT NULL, rule_id VARCHAR NOT NULL, rule_name VARCHAR NOT NULL, fingerprint VARCHAR NOT NULL,
     labels VARCHAR NOT NULL, from_state VARCHAR NOT NULL, to_state VARCHAR NOT NULL, at_ns BIGINT NOT NULL, value DOUBLE)`,
  `CREATE TABLE IF NOT EXISTS alert_notified (
     tenant VARCHAR NOT NULL, rule_id VARCHAR NOT NULL, key VARCHAR NOT NULL, last_sent_ns BIGINT, firing VARCHAR NOT NULL,
     PRIMARY KEY (tenant, key))`,
  `CREATE TABLE IF NOT EXISTS alert_silences (
     tenant VARCHAR NOT NULL, id VARCHAR NOT NULL, body VARCHAR NOT NULL, starts_ns BIGINT NOT NULL, ends_ns BIGINT NOT NULL,
     PRIMARY KEY (tenant, id))`,
];

/**
 * JSON with bigints as `"123n"` strings and the numbers JSON has no form for (an alert's value and
 * evidence can be ±Inf or NaN) as `{"$float": "+Inf"}`, read back by `reviveBigints`. A string that
 * reads like a bigint (a label value `"123n"`) is kept as `{"$nString": "123"}` (its digits without
 * the n, which no replacer call would take for one again), so it comes back a string. Labels and annotations hold strings only, so no object of theirs reads as anything else.
 */
const BIGINT_TEXT = /^-?\d+n$/;
const withBigints = (v: unknown) =>
  JSON.stringify(v, (_k, x: unknown) =>
    typeof x === 'bigint' ? `${x}n`
    : typeof x === 'number' && !Number.isFinite(x) ? { $float: nonFiniteText(x) }
    : typeof x === 'string' && BIGINT_TEXT.test(x) ? { $nString: x.slice(0, -1) }
    : x,
  );
/**
 * A rule's or silence's text, refused when longer than one DuckDB string may be (long-values.ts):
 * cutting it would change what the rule matches or what the silence says.
 */
function definitionText(code: 'BAD_RULE' | 'BAD_SILENCE', what: string, text: string): string {
  if (text.length <= MAX_STORED_CHARS) return text;
  throw new AlertingError(code, `${what} is ${text.length} characters as JSON; at most ${MAX_STORED_CHARS} are stored (shorten its annotations, labels, filter or comment)`);
}
const FLOATS: Record<string, number> = { '+Inf': Infinity, '-Inf': -Infinity, NaN };
const reviveBigints = (text: string) =>
  JSON.parse(text, (_k, x: unknown) => {
    if (typeof x === 'string' && BIGINT_TEXT.test(x)) return BigInt(x.slice(0, -1));
    if (x !== null && typeof x === 'object' && !Array.isArray(x)) {
      const keys = Object.keys(x);
      const { $float: f, $nString: digits } = x as { $float?: unknown; $nString?: unknown };
      if (keys.length === 1 && typeof f === 'string' && Object.hasOwn(FLOATS, f)) return FLOATS[f];
      if (keys.length === 1 && typeof digits === 'string') return `${digits}n`;
    }
    return x;
  }) as unknown;

export async function openAlertStore(db: Db): Promise<AlertStore> {
  for (const sql of DDL) await db.query(sql);

  return {
    async loadRules() {
      const rows = await db.query('SELECT tenant, id, definition FROM alert_rules ORDER BY tenant, id');
      // A stored rule never stops the gateway from starting: one outside the bounds a new rule must
      // keep loads (the engine warns), and one this version refuses (a filter regex it no longer
      // takes) loads as broken: listed with the reason, not evaluated, its row left as it is.
      return rows.map((r) => parseStoredRule(r.definition as string, { tenant: r.tenant as string, id: r.id as string }));
    },
    async saveRule(rule: AlertRule) {
      await db.query('INSERT OR REPLACE INTO alert_rules VALUES ($1, $2, $3, $4)', [
        rule.tenant,
        rule.id,
        definitionText('BAD_RULE', 'rule', JSON.stringify(ruleToPlain(rule))),
        BigInt(Date.now()) * 1_000_000n,
      ]);
    },
    async deleteRule(tenant, id) {
      await db.query('DELETE FROM alert_rules WHERE tenant = $1 AND id = $2', [tenant, id]);
      await db.query('DELETE FROM alert_instances WHERE tenant = $1 AND rule_id = $2', [tenant, id]);
    },
    async loadInstances() {
      const rows = await db.query('SELECT body FROM alert_instances');
      return rows.map((r) => reviveBigints(r.body as string) as AlertInstance);
    },
    async saveInstance(i: AlertInstance) {
      await db.query('INSERT OR REPLACE INTO alert_instances VALUES ($1, $2, $3, $4, $5, $6, $7, $8)', [
        i.tenant,
        i.fingerprint,
        i.ruleId,
        i.state,
        i.activeAt,
        i.firedAt,
        i.resolvedAt,
        // Evidence carries stored exception messages (each up to MAX_STORED_CHARS): the longest are cut.
        storedText(i, withBigints),
      ]);
    },
    async deleteInstance(tenant, fp) {
      await db.query('DELETE FROM alert_instances WHERE tenant = $1 AND fingerprint = $2', [tenant, fp]);
    },
    async appendHistory(t: AlertTransition) {
      await db.query('INSERT INTO alert_history VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)', [
        t.tenant,
        t.ruleId,
        t.ruleName,
        t.fingerprint,
        storedText(t.labels, JSON.stringify),
        t.from,
        t.to,
        t.at,
        t.value === null || !Number.isFinite(t.value) ? null : t.value,
      ]);
    },
    async deleteHistoryBefore(atNs) {
      const [row] = await db.query('DELETE FROM alert_history WHERE at_ns < $1', [atNs]);
      return Number(row?.Count ?? 0);
    },
    async history(tenant, q) {
      const p = params([tenant]);
      const where = [
        'tenant = $1',
        ...(q.ruleIds?.length ? [`rule_id IN (${q.ruleIds.map((id) => p.add(id)).join(', ')})`] : []),
        ...(q.states?.length ? [`to_state IN (${q.states.map((state) => p.add(state)).join(', ')})`] : []),
        timeRangeSql('at_ns', q.range, p) || 'TRUE',
      ];
      const rows = await db.query(
        `SELECT * FROM alert_history WHERE ${where.join(' AND ')} ORDER BY ${q.oldestFirst ? 'at_ns, rowid' : 'at_ns DESC, rowid DESC'} LIMIT ${p.add(q.limit)}`,
        p.values,
      );
      return rows.map((r) => ({
        tenant: r.tenant as string,
        ruleId: r.rule_id as string,
        ruleName: r.rule_name as string,
        fingerprint: r.fingerprint as string,
        labels: JSON.parse(r.labels as string) as Record<string, string>,
        from: r.from_state as AlertState,
        to: r.to_state as AlertState,
        at: r.at_ns as bigint,
        value: (r.value as number | null) ?? null,
      }));
    },
    async alerts(tenant, q) {
      const p = params([tenant]);
      const where = ['tenant = $1'];
      if (q.states?.length) where.push(`state IN (${q.states.map((s) => p.add(s)).join(', ')})`);
      // An alert overlaps [from, to] when it became active by `to` and was not resolved before `from`.
      if (q.range?.to != null) where.push(`coalesce(active_ns, 0) <= ${p.add(q.range.to)}`);
      if (q.range?.from != null) where.push(`(resolved_ns IS NULL OR resolved_ns >= ${p.add(q.range.from)})`);
      const rows = await db.query(
        `SELECT body FROM alert_instances WHERE ${where.join(' AND ')} ORDER BY active_ns DESC NULLS LAST, fingerprint LIMIT ${p.add(q.limit)}`,
        p.values,
      );
      return rows.map((r) => reviveBigints(r.body as string) as AlertInstance);
    },
    async loadNotified() {
      const rows = await db.query('SELECT tenant, rule_id, key, last_sent_ns, firing FROM alert_notified');
      return rows.map((r) => ({
        tenant: r.tenant as string,
        ruleId: r.rule_id as string,
        key: r.key as string,
        lastSentAt: (r.last_sent_ns as bigint | null) ?? null,
        firing: JSON.parse(r.firing as string) as string[],
      }));
    },
    async saveNotified(g) {
      await db.query('INSERT OR REPLACE INTO alert_notified VALUES ($1, $2, $3, $4, $5)', [g.tenant, g.ruleId, g.key, g.lastSentAt, JSON.stringify(g.firing)]);
    },
    async deleteNotified(tenant, ruleId) {
      await db.query('DELETE FROM alert_notified WHERE tenant = $1 AND rule_id = $2', [tenant, ruleId]);
    },
    async loadSilences() {
      const rows = await db.query('SELECT body FROM alert_silences ORDER BY starts_ns');
      return rows.map((r) => reviveBigints(r.body as string) as Silence);
    },
    async saveSilence(s: Silence) {
      await db.query('INSERT OR REPLACE INTO alert_silences VALUES ($1, $2, $3, $4, $5)', [
        s.tenant,
        s.id,
        definitionText('BAD_SILENCE', 'silence', withBigints(s)),
        s.startsAt,
        s.endsAt,
      ]);
    },
    async deleteSilence(tenant: string, id: string) {
      await db.query('DELETE FROM alert_silences WHERE tenant = $1 AND id = $2', [tenant, id]);
    },
  };
}
