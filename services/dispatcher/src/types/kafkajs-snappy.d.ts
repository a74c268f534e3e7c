// kafkajs-snappy ships no types: a codec factory as kafkajs's CompressionCodecs expects it.
declare module 'kafkajs-snappy' {
  import type { Codec } from 'kafkajs'

  const SnappyCodec: () => Codec
  export default SnappyCodec
}
