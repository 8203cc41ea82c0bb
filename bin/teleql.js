#!/usr/bin/env node
// Entry for the `teleql` command: runs the TypeScript sources through tsx so no build step is needed.
// DuckDB runs its calls on libuv's thread pool (4 threads by default) next to zlib and fs work; the
// store holds 5 connections, so give the pool room before anything starts using it.
process.env.UV_THREADPOOL_SIZE ??= '8';
const { register } = await import('tsx/esm/api');
register();
await import('../src/main.ts');
