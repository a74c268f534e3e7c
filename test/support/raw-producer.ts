// Produces records byte for byte through the real Java Kafka client (RawProducer.java): the way to send
// what kafkajs cannot or will not — null header values, repeated header names — as Java/Spring
// producers do. One JVM per call; batch the records.
import { spawn } from 'node:child_process'
import { join } from 'node:path'
import { ensureKafkaJars, kafkaVersion } from '../infra/kafka-jars.ts'

type Bytes = Buffer | string | null

export interface RawRecord {
  topic: string
  key: Bytes
  value: Bytes
  /** In order; a name may repeat; a null value is a header without value. */
  headers?: Array<[name: string, value: Bytes]>
}

const field = (b: Bytes): string => (b === null ? '-' : Buffer.from(b).toString('base64'))

/** Sends the records in order (acks=all, idempotent) and resolves with where each one landed. */
export async function produceRaw(
  brokers: string[],
  records: RawRecord[],
  opts: { timeoutMs?: number; compression?: 'none' | 'gzip' | 'snappy' | 'lz4' | 'zstd' } = {},
): Promise<Array<{ partition: number; offset: string }>> {
  const timeoutMs = opts.timeoutMs ?? 120_000
  const libs = await ensureKafkaJars(kafkaVersion())
  const input = records
    .map((r) =>
      [
        field(r.topic),
        field(r.key),
        field(r.value),
        ...(r.headers ?? []).map(([n, v]) => `${field(n)}:${field(v)}`),
      ].join('\t'),
    )
    .join('\n')
  const child = spawn(
    'java',
    [
      '-cp',
      `${libs}/*`,
      '-Dorg.slf4j.simpleLogger.defaultLogLevel=warn',
      join(import.meta.dirname, 'RawProducer.java'),
      brokers.join(','),
      ...(opts.compression ? [opts.compression] : []),
    ],
    { stdio: ['pipe', 'pipe', 'pipe'] },
  )
  let stdout = ''
  let stderr = ''
  child.stdout.setEncoding('utf8').on('data', (d: string) => {
    stdout += d
  })
  child.stderr.setEncoding('utf8').on('data', (d: string) => {
    stderr += d
  })
  child.stdin.end(`${input}\n`)
  // a broker that does not answer would keep the JVM blocked (max.block.ms per record) past the test
  const deadline = setTimeout(() => child.kill('SIGKILL'), timeoutMs)
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once('error', reject)
    child.once('close', resolve)
  }).finally(() => clearTimeout(deadline))
  const acks = stdout
    .split('\n')
    .filter((l) => l.startsWith('ok '))
    .map((l) => {
      const [, partition, offset] = l.split(' ')
      return { partition: Number(partition), offset: offset as string }
    })
  if (code !== 0 || acks.length !== records.length) {
    throw new Error(
      `RawProducer exited ${code} after ${acks.length}/${records.length} records: ${stderr.slice(-2000)}`,
    )
  }
  return acks
}
