import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { renderSchema, SCHEMA_FILE } from '../../../scripts/print-schema.ts';

test('the committed schema.graphql matches the schema the code builds', () => {
  const committed = readFileSync(SCHEMA_FILE, 'utf8');
  assert.ok(
    committed === renderSchema(),
    'schema/schema.graphql is out of date with schema/*.ts: run `npm run schema:print` (then `npm run codegen`) and commit the result',
  );
});
