// Settings that point outside the config, a file to read or a URL to reach, checked where they are
// used, so a mistake stops start-up naming the setting (exit code 2) rather than a raw Node error.
import { readFileSync, statSync } from 'node:fs';
import { SettingError } from './merge.ts';

/** Why a file could not be read, in words (the errno codes a mistyped or unmounted path gives). */
const FILE_PROBLEMS: Record<string, string> = {
  ENOENT: 'no such file',
  EACCES: 'permission denied',
  EPERM: 'permission denied',
  EISDIR: 'it is a directory',
  ENOTDIR: 'a part of the path is not a directory',
};

/** The file `key` names, read now; a SettingError naming the key, the path and why when it cannot be. */
export function readSettingFile(key: string, file: string): Buffer {
  try {
    return readFileSync(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new SettingError(key, `cannot read ${file}: ${(code && FILE_PROBLEMS[code]) ?? (err as Error).message}`);
  }
}

/** What says a file changed without reading it: inode, size and mtime ('missing' when it is not there). */
export function fileStamp(file: string): string {
  const s = statSync(file, { throwIfNoEntry: false });
  return s ? `${s.ino}:${s.size}:${s.mtimeMs}` : 'missing';
}

/** The URL `key` holds, which must use one of `protocols` (e.g. `['http:', 'https:']`). */
export function settingUrl(key: string, value: string, protocols: readonly string[]): URL {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new SettingError(key, `${JSON.stringify(value)} is not a URL`);
  }
  if (!protocols.includes(url.protocol)) {
    throw new SettingError(key, `expected a URL starting with ${protocols.map((p) => `${p}//`).join(' or ')} (actual: ${JSON.stringify(value)})`);
  }
  return url;
}
