import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { generate } from '@graphql-codegen/cli';
import config, { GENERATED_FILE } from '../../../codegen.ts';

const root = fileURLToPath(new URL('../../../', import.meta.url));

test('the committed test/generated/graphql.ts matches what codegen makes from schema.graphql', async () => {
  const outputs: { filename: string; content: string }[] = await generate({ ...config, cwd: root, silent: true }, false);
  const generated = outputs.find((o) => o.filename.endsWith(GENERATED_FILE));
  assert.ok(generated, `codegen produced no ${GENERATED_FILE}`);
  const committed = readFileSync(new URL(`../../../${GENERATED_FILE}`, import.meta.url), 'utf8');
  assert.ok(
    committed === generated.content,
    `${GENERATED_FILE} is out of date with schema/schema.graphql or test/graphql/*.graphql: run \`npm run codegen\` and commit the result`,
  );
});
