import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { watchRulesFile } from '../../../src/alerting/rules-file.ts';
import { AlertingError, type AlertRule } from '../../../src/alerting/types.ts';
import { silentLogger } from '../../../src/logger.ts';
import { waitFor } from '../../helpers/wait-for.ts';

const rule = (name: string) => `rules:\n  - name: ${name}\n    kind: NO_DATA\n`;

test('a rules file mounted from a Kubernetes ConfigMap is reloaded when the ConfigMap changes', async () => {
  // The kubelet writes each version to a new directory and swaps the `..data` symlink the file's
  // own symlink goes through; no event names rules.yaml, so such updates were never seen.
  const dir = await mkdtemp(join(tmpdir(), 'teleql-configmap-'));
  const applied: string[][] = [];
  const watcher = watchRulesFile({
    file: join(dir, 'rules.yaml'),
    debounceMs: 20,
    logger: silentLogger(),
    apply: async (rules: AlertRule[]) => void applied.push(rules.map((r) => r.name)),
  });
  try {
    await mkdir(join(dir, '..2026_12_04_v1'));
    await writeFile(join(dir, '..2026_12_04_v1', 'rules.yaml'), rule('First'));
    await symlink('..2026_12_04_v1', join(dir, '..data'));
    await symlink(join('..data', 'rules.yaml'), join(dir, 'rules.yaml'));
    assert.equal(await watcher.reload(), null);
    await waitFor(async () => applied.at(-1)?.join(), (names) => names === 'First', 'the first version');

    await mkdir(join(dir, '..2026_12_04_v2'));
    await writeFile(join(dir, '..2026_12_04_v2', 'rules.yaml'), rule('Second'));
    await symlink('..2026_12_04_v2', join(dir, '..data_tmp'));
    await rename(join(dir, '..data_tmp'), join(dir, '..data'));
    await waitFor(async () => applied.at(-1)?.join(), (names) => names === 'Second', 'the swapped version');

    // Other entries changing in the directory do not apply the same rules again.
    const loads = applied.length;
    await writeFile(join(dir, 'unrelated.txt'), 'x');
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(applied.length, loads);
  } finally {
    watcher.close();
    await rm(dir, { recursive: true, force: true });
  }
});

test('a refused load is counted once on /metrics, however often its directory changes, and a good one sets last_reload_successful', async () => {
  // Found by QA: with the file missing, every write of a DuckDB file or log in the same directory
  // read it again, logging and counting the same refusal many times a second.
  const dir = await mkdtemp(join(tmpdir(), 'teleql-rules-metrics-'));
  const file = join(dir, 'rules.yaml');
  let apply: (rules: AlertRule[]) => Promise<void> = async () => undefined;
  const watcher = watchRulesFile({ file, debounceMs: 20, logger: silentLogger(), apply: (rules) => apply(rules) });
  const sample = (name: string) => watcher.metrics().find((m) => m.name === `teleql_alerting_rules_file_${name}`)!.value;
  try {
    await writeFile(file, rule('First'));
    assert.equal(await watcher.reload(), null);
    assert.deepEqual([sample('reload_failures_total'), sample('last_reload_successful')], [0, 1]);
    const loadedAt = sample('last_reload_success_timestamp_seconds');
    assert.ok(Math.abs(loadedAt - Date.now() / 1000) < 60);

    await rm(file);
    await waitFor(async () => sample('reload_failures_total'), (n) => n === 1, 'the missing file refused');
    for (let i = 0; i < 5; i++) {
      await writeFile(join(dir, 'neighbour.duckdb.wal'), `write ${i}`);
      await new Promise((r) => setTimeout(r, 40));
    }
    await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual([sample('reload_failures_total'), sample('last_reload_successful')], [1, 0]);
    assert.match(watcher.lastError() ?? '', /rules\.yaml: ENOENT/);
    assert.equal(sample('last_reload_success_timestamp_seconds'), loadedAt, 'still the last success');

    // Refused by apply (an API rule took a name): not read again for a neighbour's change, only when asked.
    apply = async () => {
      throw new AlertingError('BAD_RULE', 'rule "Second" (tenant "default"): the name is already used');
    };
    await writeFile(file, rule('Second'));
    await waitFor(async () => sample('reload_failures_total'), (n) => n === 2, 'the clash refused');
    assert.equal(watcher.lastError(), `${file}: rule "Second" (tenant "default"): the name is already used`);
    await writeFile(join(dir, 'neighbour.duckdb.wal'), 'more');
    await new Promise((r) => setTimeout(r, 150));
    assert.equal(sample('reload_failures_total'), 2);
    apply = async () => undefined;
    assert.equal(await watcher.reloadIfRefusedByApply(), null);
    assert.deepEqual([sample('reload_failures_total'), sample('last_reload_successful')], [2, 1]);
    assert.equal(await watcher.reloadIfRefusedByApply(), null, 'nothing to retry');
  } finally {
    watcher.close();
    await rm(dir, { recursive: true, force: true });
  }
});
