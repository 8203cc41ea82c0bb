// A second node:test reporter, after TAP: at the end of the run it prints the failed tests with
// their file and error, and the slowest files. CI keeps only the tail of a long log, and TAP says
// "not ok" hundreds of lines earlier and never names the file.
import { relative } from 'node:path';

const SLOWEST_FILES = 15;

/** @param {AsyncIterable<{ type: string, data: any }>} source */
export default async function* summary(source) {
  const failures = [];
  const fileMs = new Map();
  const names = new Map(); // per file (files may run side by side): the name path of the test being reported
  for await (const event of source) {
    const data = event.data ?? {};
    const file = data.file ? relative(process.cwd(), data.file) : '(no file)';
    if (event.type === 'test:start') {
      const path = names.get(file) ?? [];
      path.length = data.nesting ?? 0;
      path.push(data.name);
      names.set(file, path);
      continue;
    }
    if (event.type !== 'test:pass' && event.type !== 'test:fail') continue;
    if ((data.nesting ?? 0) === 0) fileMs.set(file, (fileMs.get(file) ?? 0) + (data.details?.duration_ms ?? 0));
    if (event.type === 'test:fail' && data.details?.type !== 'suite') {
      const path = [...(names.get(file) ?? []).slice(0, data.nesting ?? 0), data.name].join(' › ');
      const error = data.details?.error;
      const cause = error?.cause ?? error;
      const text = String(cause?.stack ?? cause?.message ?? cause ?? 'failed');
      failures.push(`${file}: ${path}\n    ${text.split('\n').slice(0, 8).join('\n    ')}`);
    }
  }
  const slowest = [...fileMs].sort((a, b) => b[1] - a[1]).slice(0, SLOWEST_FILES);
  yield `\n# slowest files (s): ${slowest.map(([f, ms]) => `${f} ${(ms / 1000).toFixed(1)}`).join(', ')}\n`;
  if (failures.length === 0) {
    yield '# failed tests: none\n';
    return;
  }
  yield `# failed tests (${failures.length}):\n`;
  for (const f of failures) yield `# ${f.replaceAll('\n', '\n# ')}\n`;
}
