// Sentence embeddings with @huggingface/transformers (feature-extraction, mean pooling, L2
// normalised, so a dot product is the cosine similarity). The library and the model are loaded on
// first use with a dynamic import: the gateway starts and ingests without either.
import type { Logger } from 'pino';
import { checkModelAvailable, modelIdentity } from './model-files.ts';

export interface EmbedderOptions {
  /** A Hugging Face model ID (downloaded and cached on first use) or a directory under localModelPath. */
  model: string;
  /** Directory holding model folders (`<localModelPath>/<model>/onnx/…`); '' for the library's default. */
  localModelPath: string;
  /** false: never download, only local files are used. */
  allowRemoteModels: boolean;
  /** Where downloaded models are cached; '' for the library's default. */
  cacheDir: string;
  /** ONNX weights variant (config.ts SEARCH_DTYPES, checked at start); '' for the model's default. */
  dtype: string;
  logger?: Logger;
}

export interface Embedder {
  /** The configured name (what clients and the log are shown). */
  readonly model: string;
  /** Known once loaded (read from the model's output, never configured). */
  dimensions(): number | null;
  /**
   * The key its vectors are stored under, known once loaded: the name, the dtype and a digest of the
   * files loaded (model-files.ts modelIdentity), so other weights under the same name do not reuse
   * the old vectors but have their texts embedded again.
   */
  vectorKey(): string | null;
  /** Loads the model (once; later calls share the promise). Rejects when it cannot be loaded. */
  load(): Promise<void>;
  /** One unit-length vector per text, in order. Loads the model first if needed. */
  embed(texts: readonly string[]): Promise<Float32Array[]>;
  /**
   * How many of the text's tokens are in the model's vocabulary (not the unknown token or another
   * special one); null when the model has no tokenizer to ask. A text with none embeds to the
   * unknown token's vector (zero in static models), which says nothing about its meaning.
   */
  knownTokens?(text: string): Promise<number | null>;
  close(): Promise<void>;
}

interface Tensor {
  dims: number[];
  data: Float32Array;
  dispose?(): void;
}
interface Tokenizer {
  encode(text: string, opts?: { add_special_tokens?: boolean }): number[];
  all_special_ids?: number[];
  unk_token_id?: number | null;
}
type Extractor = ((texts: string[], opts: { pooling: 'mean'; normalize: boolean }) => Promise<Tensor>) & { dispose?(): Promise<void>; tokenizer?: Tokenizer };

/**
 * What a client is told when the model did not load. The reason (where the files were looked for,
 * the library's own error) names server paths, so it goes to the gateway's log only.
 */
export function modelNotLoaded(model: string): string {
  return `the embedding model ${model} could not be loaded (the reason is in the gateway log)`;
}

const SESSION_OPTIONS = { enableCpuMemArena: false, enableMemPattern: false, intraOpNumThreads: 1, interOpNumThreads: 1 };

export function createEmbedder(opts: EmbedderOptions): Embedder {
  let extractor: Extractor | null = null;
  let loading: Promise<void> | null = null;
  let dims: number | null = null;
  let key: string | null = null;

  async function doLoad(): Promise<void> {
    const t0 = performance.now();
    // Before the import: an unavailable model fails here, without loading the library at all.
    await checkModelAvailable(opts);
    const hf = await import('@huggingface/transformers');
    // env is process-wide in transformers.js; teleql runs one embedder per process.
    if (opts.localModelPath) hf.env.localModelPath = opts.localModelPath;
    hf.env.allowRemoteModels = opts.allowRemoteModels;
    hf.env.allowLocalModels = true;
    if (opts.cacheDir) hf.env.cacheDir = opts.cacheDir;
    const pipe = await hf.pipeline('feature-extraction', opts.model, {
      ...(opts.dtype ? { dtype: opts.dtype as 'fp32' } : {}),
      // onnxruntime's defaults trade memory for speed: an arena that keeps its peak, memory
      // patterns per input shape, a thread per core. Embedding is background work beside ingest.
      session_options: SESSION_OPTIONS,
    });
    extractor = pipe as unknown as Extractor;
    const probe = await extractor(['dimension probe'], { pooling: 'mean', normalize: true });
    dims = probe.dims[probe.dims.length - 1]!;
    probe.dispose?.();
    key = await modelIdentity(opts);
    opts.logger?.info({ model: opts.model, dimensions: dims, vectorKey: key, ms: Math.round(performance.now() - t0) }, 'embedding model loaded');
  }

  const embedder: Embedder = {
    model: opts.model,
    dimensions: () => dims,
    vectorKey: () => key,
    load() {
      loading ??= doLoad().catch((err: unknown) => {
        loading = null; // a later call may try again (e.g. the network came back)
        throw err;
      });
      return loading;
    },
    async embed(texts) {
      if (texts.length === 0) return [];
      await embedder.load();
      const out = await extractor!([...texts], { pooling: 'mean', normalize: true });
      const d = out.dims[out.dims.length - 1]!;
      const vectors: Float32Array[] = [];
      // Copy out of the tensor so it can be freed.
      for (let i = 0; i < texts.length; i++) vectors.push(Float32Array.from(out.data.subarray(i * d, (i + 1) * d)));
      out.dispose?.();
      return vectors;
    },
    async knownTokens(text) {
      await embedder.load();
      const tokenizer = extractor?.tokenizer;
      if (!tokenizer || typeof tokenizer.encode !== 'function') return null;
      const special = new Set(tokenizer.all_special_ids ?? []);
      if (typeof tokenizer.unk_token_id === 'number') special.add(tokenizer.unk_token_id);
      return tokenizer.encode(text, { add_special_tokens: false }).filter((id) => !special.has(id)).length;
    },
    async close() {
      await extractor?.dispose?.();
      extractor = null;
    },
  };
  return embedder;
}
