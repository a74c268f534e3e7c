// kafkajs-snappy and lz4js ship no types.
declare module 'kafkajs-snappy' {
  /** A codec factory, as kafkajs's CompressionCodecs expects it. */
  const SnappyCodec: () => {
    compress(encoder: { buffer: Buffer }): Promise<Buffer>
    decompress(buffer: Buffer): Promise<Buffer>
  }
  export default SnappyCodec
}

declare module 'lz4js' {
  /** Decompresses one LZ4 frame (the format Kafka's lz4 batches use) into at most `maxSize` bytes. */
  export function decompress(src: Uint8Array, maxSize?: number): Uint8Array
  /** The frame's decompressed size as it states it (its content size, or its blocks' maximum). */
  export function decompressBound(src: Uint8Array): number
  export function compress(src: Uint8Array, maxSize?: number): Uint8Array
}
