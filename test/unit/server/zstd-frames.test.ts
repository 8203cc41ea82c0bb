import { test } from 'node:test';
import assert from 'node:assert/strict';
import { largestZstdWindow, ZstdFrameError } from '../../../src/server/zstd-frames.ts';
import { zstdCli } from '../../helpers/zstd-cli.ts';

const MAGIC = [0x28, 0xb5, 0x2f, 0xfd];
/** A last raw block of `size` bytes (block header: Last_Block 1, Block_Type 0, Block_Size). */
const rawBlock = (size: number) => [(size << 3) | 1, (size >> 5) & 0xff, (size >> 13) & 0xff, ...Array<number>(size).fill(0x61)];

test('the window of frames written by the reference encoder is read from their headers', () => {
  const data = Buffer.from('a span name, an attribute, a log body '.repeat(200));
  assert.equal(largestZstdWindow(zstdCli(data, ['--long=20', '--no-content-size'])), 2 ** 20);
  assert.equal(largestZstdWindow(zstdCli(data, ['--long=27', '--no-content-size'])), 2 ** 27);
  // Two frames: the larger window counts, whichever frame has it.
  const two = Buffer.concat([zstdCli(data, ['--long=20', '--no-content-size']), zstdCli(data, ['--long=27', '--no-content-size'])]);
  assert.equal(largestZstdWindow(two), 2 ** 27);
});

test('a header may ask for a window of terabytes in a few bytes: the size is read, not allocated', () => {
  // Frame_Header_Descriptor 0 (a window descriptor follows), Window_Descriptor exponent 31: 2^41 bytes.
  assert.equal(largestZstdWindow(Buffer.from([...MAGIC, 0x00, 0xf8, ...rawBlock(3)])), 2 ** 41);
  // Single segment with a 2-byte content size: the value plus 256.
  assert.equal(largestZstdWindow(Buffer.from([...MAGIC, 0x60, 0x10, 0x00, ...rawBlock(0)])), 16 + 256);
  // A mantissa adds eighths of the base.
  assert.equal(largestZstdWindow(Buffer.from([...MAGIC, 0x00, (3 << 3) | 5, ...rawBlock(1)])), 2 ** 13 + 5 * 2 ** 10);
});

test('skippable frames are stepped over', () => {
  const skippable = [0x5a, 0x2a, 0x4d, 0x18, 3, 0, 0, 0, 1, 2, 3];
  assert.equal(largestZstdWindow(Buffer.from([...skippable, ...MAGIC, 0x00, 0x50, ...rawBlock(2), ...skippable])), 2 ** 20);
});

test('what is not a sequence of whole frames is refused, naming what is wrong', () => {
  const refused: [number[], RegExp][] = [
    [[], /empty/],
    [[1, 2, 3, 4, 5], /not a zstd frame at byte 0/],
    [[...MAGIC], /ends inside a frame header/],
    [[...MAGIC, 0x00], /ends inside a frame header/],
    [[...MAGIC, 0x08, 0x50, ...rawBlock(1)], /reserved bit/],
    [[...MAGIC, 0x00, 0x50], /ends inside a block header/],
    [[...MAGIC, 0x00, 0x50, ...rawBlock(5).slice(0, 6)], /ends inside a block/],
    [[...MAGIC, 0x00, 0x50, 0x07, 0x00, 0x00], /reserved type/],
    [[...MAGIC, 0x00, 0x50, 0x09, 0x00, 0x20], /over the 128 KiB a block may hold/],
    [[...MAGIC, 0x04, 0x50, ...rawBlock(1), 0xaa, 0xbb], /ends inside a frame checksum/],
    [[0x5a, 0x2a, 0x4d, 0x18, 9, 0, 0, 0, 1], /ends inside a skippable frame/],
  ];
  for (const [bytes, message] of refused) {
    assert.throws(() => largestZstdWindow(Buffer.from(bytes)), (err: unknown) => err instanceof ZstdFrameError && message.test(err.message), `${Buffer.from(bytes).toString('hex')}: ${message}`);
  }
});
