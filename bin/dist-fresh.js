// Whether dist/ (`npm run build`) is newer than every source file: then it is what `teleql serve`
// (and `npm start`) runs; otherwise bin/teleql.js runs the TypeScript sources through tsx.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { URL } from 'node:url';

const root = new URL('..', import.meta.url).pathname;
const SOURCES = ['src', 'ingest', 'resolvers', 'schema'];

export function distIsFresh() {
  const stamp = `${root}dist/.built`;
  if (!existsSync(stamp)) return false;
  const built = statSync(stamp).mtimeMs;
  for (const dir of SOURCES) {
    for (const file of readdirSync(`${root}${dir}`, { recursive: true })) {
      if (statSync(`${root}${dir}/${file}`).mtimeMs > built) return false;
    }
  }
  return true;
}
