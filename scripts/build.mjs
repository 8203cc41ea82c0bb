// npm run build (also run by `npm install` through `prepare`): compiles the gateway to dist/ so
// `teleql serve` starts without transpiling TypeScript on the way (tsx alone takes ~300 ms, and
// start-up must stay under a second). bin/teleql.js uses dist/ only while it is newer than every
// source file, and falls back to tsx otherwise, so an edit is never run stale.
import { execFileSync } from 'node:child_process';
import { cpSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { URL } from 'node:url';

const root = new URL('..', import.meta.url).pathname;
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
rmSync(`${root}dist`, { recursive: true, force: true });
execFileSync(process.execPath, [tsc, '-p', `${root}tsconfig.build.json`], { stdio: 'inherit' });
// Files the compiled modules read next to themselves.
for (const dir of ['src/otlp/proto', 'ingest/exporters/prometheus/proto']) cpSync(`${root}${dir}`, `${root}dist/${dir}`, { recursive: true });
writeFileSync(`${root}dist/.built`, `${new Date().toISOString()}\n`);
