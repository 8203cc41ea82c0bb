// Typed documents for the tests, generated from the printed SDL only (never from the code), so
// the tests see the schema exactly as clients do. Run `npm run schema:print` first.
import type { CodegenConfig } from '@graphql-codegen/cli';

export const GENERATED_FILE = 'test/generated/graphql.ts';

const config: CodegenConfig = {
  schema: 'schema/schema.graphql',
  documents: ['test/graphql/*.graphql'],
  generates: {
    [GENERATED_FILE]: {
      // typescript-operations 6 emits the enums and inputs it needs itself; adding the `typescript`
      // plugin as well would declare them twice.
      plugins: ['typescript-operations', 'typed-document-node'],
      config: {
        useTypeImports: true,
        enumsAsTypes: true,
        avoidOptionals: { field: true, inputValue: false, object: true, defaultValue: false },
        scalars: {
          ID: { input: 'string', output: 'string' },
          Timestamp: { input: 'string | number', output: 'string' },
          Duration: { input: 'string | number', output: 'string' },
          JSON: { input: 'unknown', output: 'unknown' },
        },
      },
    },
  },
};

export default config;
