#!/usr/bin/env node
// Entry for the `teleql` command. Runs the compiled gateway in dist/ (`npm run build`, done by
// `npm install`) when it is newer than every source file, else the TypeScript sources through tsx,
// so a fresh edit is never run stale and no build step is ever required.
// DuckDB runs its calls on libuv's thread pool (4 threads by default) next to zlib and fs work; the
// store holds 5 connections, so give the pool room before anything starts using it.
import { distIsFresh } from './dist-fresh.js';

process.env.UV_THREADPOOL_SIZE ??= '8';
// What a signal does while the command is still loading (up to a second or two through tsx), until
// the command takes it over (src/main.ts removes these). Node's default would end the process:
// `teleql tail` ends with 0 on Ctrl-C or SIGTERM, as once running (nothing has started yet); `teleql
// serve` ignores SIGHUP, a reload (systemd's ExecReload right after a restart), as the config it
// would read again is read after this anyway. (The one exit outside src/main.ts: main is not loaded yet.)
const WHILE_LOADING = {
  tail: { SIGINT: () => process.exit(0), SIGTERM: () => process.exit(0) },
  serve: { SIGHUP: () => {} },
};
for (const [signal, act] of Object.entries(WHILE_LOADING[process.argv[2]] ?? {})) process.on(signal, act);
if (process.env.TELEQL_FROM_SOURCE !== '1' && distIsFresh()) {
  await import('../dist/src/main.js');
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import('../src/main.ts');
}
