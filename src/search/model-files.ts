// Whether an embedding model can be loaded, found out without importing transformers.js: the
// library and onnxruntime take ~100 MB of memory once imported, so a gateway whose model is neither
// on disk nor downloadable (an offline machine with the default model) must not load them at all.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface ModelLocation {
  model: string;
  /** '' for the library's default (`<package>/models/`). */
  localModelPath: string;
  /** '' for the library's default (`<package>/.cache/`). */
  cacheDir: string;
  allowRemoteModels: boolean;
}

const REMOTE_HOST = 'https://huggingface.co/';
const PROBE_TIMEOUT_MS = 5000;

/** transformers.js' package directory, where its default model and cache directories are. */
function libraryDir(): string {
  return dirname(dirname(fileURLToPath(import.meta.resolve('@huggingface/transformers'))));
}

/** The directories where transformers.js would find the model's files without downloading them. */
export function localModelDirs(loc: ModelLocation): string[] {
  const lib = loc.localModelPath && loc.cacheDir ? '' : libraryDir();
  return [join(loc.localModelPath || join(lib, 'models'), loc.model), join(loc.cacheDir || join(lib, '.cache'), loc.model)];
}

/**
 * Resolves when the model's config.json is on disk or, with remote models allowed, reachable on
 * the Hugging Face hub; rejects with a message naming where it looked otherwise.
 */
export async function checkModelAvailable(loc: ModelLocation): Promise<'local' | 'remote'> {
  const dirs = localModelDirs(loc);
  if (dirs.some((d) => existsSync(join(d, 'config.json')))) return 'local';
  const notLocal = `embedding model ${loc.model} not found in ${dirs.join(' or ')}`;
  if (!loc.allowRemoteModels) throw new Error(`${notLocal}, and search.allowRemoteModels is false`);
  const url = `${REMOTE_HOST}${loc.model}/resolve/main/config.json`;
  let status: number;
  try {
    const res = await fetch(url, { method: 'HEAD', redirect: 'follow', signal: AbortSignal.timeout(PROBE_TIMEOUT_MS) });
    status = res.status;
  } catch (err) {
    const cause = (err as { cause?: { code?: string } }).cause?.code ?? (err instanceof Error ? err.message : String(err));
    throw new Error(`${notLocal}, and ${url} is unreachable (${cause}): put the model there or allow the download`);
  }
  if (status !== 200) throw new Error(`${notLocal}, and ${url} answered HTTP ${status}`);
  return 'remote';
}
