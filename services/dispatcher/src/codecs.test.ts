// The codecs on their own (the poison test sends each codec's batch through the real Java client).
import assert from 'node:assert/strict'
import { test } from 'node:test'
import kafkajs from 'kafkajs'
import { compress } from 'lz4js'
import { type Codec, MAX_DECOMPRESSED_BYTES } from './codecs.ts'

const lz4 = kafkajs.CompressionCodecs[kafkajs.CompressionTypes.LZ4]() as Codec

test('lz4: a frame decompresses to its bytes, as a Buffer', async () => {
  const data = Buffer.from(JSON.stringify({ events: Array.from({ length: 5000 }, (_, i) => ({ i })) }))
  const out = await lz4.decompress(Buffer.from(compress(data)))
  assert.ok(Buffer.isBuffer(out))
  assert.ok(out.equals(data))
})

test('lz4: a frame that claims more than MAX_DECOMPRESSED_BYTES is refused before anything is allocated', async () => {
  // 20 one-byte blocks of up to 4 MiB each: lz4js reserves 80 MiB for it (corruption makes such
  // headers); a Java producer fills its 64 KiB blocks
  const blocks = 20
  const frame = Buffer.alloc(4 + 3 + blocks * 5 + 4)
  frame.writeUInt32LE(0x184d2204, 0)
  frame[4] = 0x60 // version 01, independent blocks, no content size
  frame[5] = 0x70 // 4 MiB blocks
  for (let i = 0; i < blocks; i++) frame.writeUInt32LE(1, 7 + i * 5) // 1 compressed byte each
  const before = process.memoryUsage().rss
  await assert.rejects(lz4.decompress(frame), new RegExp(`more than ${MAX_DECOMPRESSED_BYTES}`))
  assert.ok(process.memoryUsage().rss - before < MAX_DECOMPRESSED_BYTES)
})

test('lz4 and zstd only decompress: the dispatcher never sends compressed', async () => {
  await assert.rejects(lz4.compress({ buffer: Buffer.from('x') }), /only reads lz4 batches/)
})
