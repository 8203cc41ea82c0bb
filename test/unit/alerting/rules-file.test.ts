import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { watchRulesFile } from '../../../src/alerting/rules-file.ts';
import type { AlertRule } from '../../../src/alerting/types.ts';
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
