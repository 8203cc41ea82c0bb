// The largest window a zstd body's frames ask for, read from their headers before anything is
// decompressed. fzstd (the decoder) has no window limit: it allocates each frame's window as its
// header says, up to 2 GiB, and moves it on every block, so a 20-byte header would cost 2 GiB and
// seconds of CPU. libzstd refuses such frames by default (windowLogMax 27); this walk lets the body
// reader do the same. It reads only frame and block headers (RFC 8878, 3.1): no block is decoded.

const ZSTD_MAGIC = 0xfd2fb528;
/** Skippable frames: magic 0x184D2A50–0x184D2A5F, a 4-byte size, then that many bytes of data. */
const isSkippableMagic = (magic: number) => magic >>> 4 === 0x184d2a5;
/** Block_Maximum_Size: a block never holds more than 128 KiB (RFC 8878, 3.1.1.2.4). */
const MAX_BLOCK_BYTES = 128 * 1024;

export class ZstdFrameError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ZstdFrameError';
  }
}

/** Little-endian unsigned integer of `n` bytes (n ≤ 8) at `at`; exact up to 2^53. */
function readLE(buf: Uint8Array, at: number, n: number): number {
  let value = 0;
  for (let i = n - 1; i >= 0; i--) value = value * 256 + buf[at + i]!;
  return value;
}

/**
 * The largest window, in bytes, over every frame of a complete zstd body. Throws ZstdFrameError
 * when the body is not a sequence of whole zstd (or skippable) frames.
 */
export function largestZstdWindow(buf: Uint8Array): number {
  let at = 0;
  let largest = 0;
  const need = (n: number, what: string) => {
    if (at + n > buf.length) throw new ZstdFrameError(`zstd body ends inside ${what}`);
  };
  if (buf.length === 0) throw new ZstdFrameError('zstd body is empty');
  while (at < buf.length) {
    need(4, 'a frame magic number');
    const magic = readLE(buf, at, 4);
    at += 4;
    if (isSkippableMagic(magic)) {
      need(4, 'a skippable frame size');
      const size = readLE(buf, at, 4);
      at += 4;
      need(size, 'a skippable frame');
      at += size;
      continue;
    }
    if (magic !== ZSTD_MAGIC) throw new ZstdFrameError(`not a zstd frame at byte ${at - 4} (magic number ${magic.toString(16)})`);
    need(1, 'a frame header');
    const descriptor = buf[at++]!;
    if (descriptor & 0x08) throw new ZstdFrameError('zstd frame header has its reserved bit set');
    const singleSegment = (descriptor >> 5) & 1;
    const contentSizeFlag = descriptor >> 6;
    const checksum = (descriptor >> 2) & 1;
    const dictionaryIdBytes = [0, 1, 2, 4][descriptor & 3]!;
    const contentSizeBytes = [singleSegment, 2, 4, 8][contentSizeFlag]!;
    let window = 0;
    if (!singleSegment) {
      need(1, 'a frame header');
      const descriptorByte = buf[at++]!;
      const base = 2 ** (10 + (descriptorByte >> 3));
      window = base + (base / 8) * (descriptorByte & 7);
    }
    need(dictionaryIdBytes + contentSizeBytes, 'a frame header');
    at += dictionaryIdBytes;
    if (singleSegment) window = readLE(buf, at, contentSizeBytes) + (contentSizeBytes === 2 ? 256 : 0);
    at += contentSizeBytes;
    largest = Math.max(largest, window);
    for (let last = 0; !last; ) {
      need(3, 'a block header');
      const header = readLE(buf, at, 3);
      at += 3;
      last = header & 1;
      const type = (header >> 1) & 3;
      const size = header >>> 3;
      if (type === 3) throw new ZstdFrameError('zstd block of the reserved type');
      if (size > MAX_BLOCK_BYTES) throw new ZstdFrameError(`zstd block of ${size} bytes, over the 128 KiB a block may hold`);
      const stored = type === 1 ? 1 : size; // an RLE block stores its one byte
      need(stored, 'a block');
      at += stored;
    }
    if (checksum) {
      need(4, 'a frame checksum');
      at += 4;
    }
  }
  return largest;
}
