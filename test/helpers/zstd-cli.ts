// Bodies compressed by the reference zstd encoder (the `zstd` command, which .ci/run installs), so
// that the decoder is tested against what libzstd writes rather than against itself.
import { execFileSync } from 'node:child_process';

/** `data` compressed by the zstd command, with its extra flags (e.g. `-19`, `--long=27`). */
export function zstdCli(data: Uint8Array | string, flags: string[] = []): Buffer {
  return execFileSync('zstd', ['-q', '-c', ...flags], { input: data, maxBuffer: 64 * 1024 * 1024 });
}
