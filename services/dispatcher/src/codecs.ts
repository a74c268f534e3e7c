// The record batch codecs kafkajs lacks, registered for every client of the process. kafkajs reads
// uncompressed and gzip batches only, and a batch it cannot decompress crashes its consumer for good:
// no record of it can even be dead-lettered, so the partition stops. Java, librdkafka and franz-go
// producers are often configured with snappy (franz-go's default), lz4 or zstd (`compression.type`).
//
// All three are pure JavaScript, so the image needs no native module: kafkajs-snappy (snappyjs), fzstd
// (zstd, decompression only) and lz4js (the LZ4 frame format Kafka uses; an old package, but the
// format is frozen and it has no dependencies). The dispatcher's own sends are uncompressed, so lz4
// and zstd only decompress.
/// <reference path="./types/codecs.d.ts" />
import { decompress as zstdDecompress } from 'fzstd'
import kafkajs from 'kafkajs'
import SnappyCodec from 'kafkajs-snappy'
import { decompressBound as lz4Bound, decompress as lz4Decompress } from 'lz4js'

// What one batch may decompress to. lz4js trusts what a frame says: a corrupt batch (4 bytes changed)
// asked for ~1 GB and seconds of synchronous work, then gave kafkajs garbage to parse; refused at
// once, it stops its partition as any batch kafkajs cannot read (the broker checks batches when
// they are produced, so this takes corruption on disk). A legitimate batch is at most the topic's
// max.message.bytes compressed (1 MiB by default): 64 MiB allows a ratio of 64 there.
export const MAX_DECOMPRESSED_BYTES = 64 * 1_048_576

function lz4(data: Uint8Array): Uint8Array {
  const bound = lz4Bound(data)
  // (its reading of a content size overflows to negative from 2 GiB)
  if (!(bound >= 0 && bound <= MAX_DECOMPRESSED_BYTES))
    throw new Error(`an lz4 batch claims ${bound} bytes decompressed, more than ${MAX_DECOMPRESSED_BYTES}`)
  return lz4Decompress(data, bound)
}

/** What kafkajs's CompressionCodecs factories return. */
export interface Codec {
  compress(encoder: { buffer: Buffer }): Promise<Buffer>
  decompress(buffer: Buffer): Promise<Buffer>
}

const decompressOnly = (name: string, decompress: (data: Uint8Array) => Uint8Array) => (): Codec => ({
  async compress() {
    throw new Error(`${name} compression is not available here: the dispatcher only reads ${name} batches`)
  },
  async decompress(buffer: Buffer) {
    const out = decompress(buffer)
    return Buffer.from(out.buffer, out.byteOffset, out.byteLength)
  },
})

// (a CommonJS module whose codec registry Node's named-export detection does not see)
kafkajs.CompressionCodecs[kafkajs.CompressionTypes.Snappy] = SnappyCodec
kafkajs.CompressionCodecs[kafkajs.CompressionTypes.LZ4] = decompressOnly('lz4', lz4)
kafkajs.CompressionCodecs[kafkajs.CompressionTypes.ZSTD] = decompressOnly('zstd', zstdDecompress)
