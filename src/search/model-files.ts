// Whether an embedding model can be loaded, found out without importing transformers.js: the
// library and onnxruntime take ~100 MB of memory once imported, so a gateway whose model is neither
// on disk nor downloadable (an offline machine with the default model) must not load them at all.
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
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

/**
 * What identifies the model transformers.js loads, for keying its vectors: a different model under
 * the same name (a folder replaced in place, another localModelPath, a re-downloaded revision,
 * another dtype) gives other vectors, and must not reuse the old ones. Cheap: config.json's bytes,
 * and the size and modification time of the tokenizer files and of every file under onnx/ (not
 * their contents, which can be hundreds of MB), in the first folder that has the model (the one
 * transformers.js reads). `name dtype digest`; the digest is `remote` when no folder has it.
 */
export async function modelIdentity(loc: ModelLocation & { dtype: string }): Promise<string> {
  const dir = localModelDirs(loc).find((d) => existsSync(join(d, 'config.json')));
  const name = `${loc.model} ${loc.dtype || 'default'}`;
  if (!dir) return `${name} remote`;
  const hash = createHash('sha256').update(await readFile(join(dir, 'config.json')));
  const onnx = await readdir(join(dir, 'onnx')).catch(() => [] as string[]);
  for (const file of ['tokenizer.json', 'tokenizer_config.json', ...onnx.sort().map((f) => join('onnx', f))]) {
    const st = await stat(join(dir, file)).catch(() => null);
    hash.update(`\0${file}\0${st ? `${st.size}\0${st.mtimeMs}` : '-'}`);
  }
  return `${name} ${hash.digest('hex').slice(0, 16)}`;
}
