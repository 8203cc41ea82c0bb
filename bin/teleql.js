#!/usr/bin/env node
// Entry for the `teleql` command: runs the TypeScript sources through tsx so no build step is needed.
import { register } from 'tsx/esm/api';
register();
await import('../src/main.ts');
