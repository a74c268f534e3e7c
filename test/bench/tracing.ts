// What tracing costs, measured end to end on real processes: Kafka → dispatcher → Redis → gateway →
// WebSocket clients (which ack every notification), three times with the same load:
//   off   no OTEL_* variables (the SDK is not loaded)
//   10 %  OTEL_TRACES_EXPORTER=otlp, parentbased_traceidratio 0.1, exporting to a real Jaeger
//   100 % the same with parentbased_always_on: every event is a trace (producer side untraced, so
//         the dispatcher's sampler decides and the gateway follows it)
// Per mode: a steady phase at `rate` events/s (latency = the frame's createdAt, i.e. the event's
// occurredAt set just before the send, → arrival at the client), then a burst of `burst` events sent
// at once (throughput = events / time until the clients had them all), and the CPU time the
// dispatcher and the gateway used for both, per notification.
import { randomUUID } from 'node:crypto'
import { infraFromEnv, type JaegerServer, startJaeger, waitFor } from '@tidings/test/infra'
import { WebSocket } from 'ws'
import { connectProducer } from '../e2e/kafka.ts'
import { startStack } from '../e2e/stack.ts'
import { signUserToken } from '../support/tokens.ts'
import { cpuMs } from './lib/proc.ts'
import { type Percentiles, percentiles } from './lib/stats.ts'

export const TRACING_MODES = ['off', '10%', '100%'] as const
export type TracingMode = (typeof TRACING_MODES)[number]

export interface TracingPhase {
  events: number
  received: number
  seconds: number
  perSecond: number
  latencyMs: Percentiles
  cpuMsPerNotification: { dispatcher: number; gateway: number }
}

export interface TracingModeResult {
  mode: TracingMode
  /** The modes run in turn, `rounds` times: a load change on the shared machine hits all of them. */
  round: number
  steady: TracingPhase
  burst: TracingPhase
}

export interface TracingResult {
  users: number
  rate: number
  seconds: number
  burst: number
  rounds: number
  modes: TracingModeResult[]
}

function otelEnv(mode: TracingMode, jaeger: JaegerServer): Record<string, string> {
  if (mode === 'off') return {}
  return {
    OTEL_TRACES_EXPORTER: 'otlp',
    OTEL_EXPORTER_OTLP_ENDPOINT: jaeger.otlpHttpUrl,
    OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf',
    ...(mode === '100%'
      ? { OTEL_TRACES_SAMPLER: 'parentbased_always_on' }
      : { OTEL_TRACES_SAMPLER: 'parentbased_traceidratio', OTEL_TRACES_SAMPLER_ARG: '0.1' }),
  }
}

interface Client {
  ws: WebSocket
  latencies: number[]
  received: number
}

async function connect(baseUrl: string, userId: string): Promise<Client> {
  const token = await signUserToken(userId, { expiresInS: 3600 })
  const ws = new WebSocket(`${baseUrl.replace(/^http/, 'ws')}/v1/ws`, {
    headers: { authorization: `Bearer ${token}` },
  })
  const client: Client = { ws, latencies: [], received: 0 }
  await new Promise<void>((resolve, reject) => {
    ws.on('message', (data) => {
      const f = JSON.parse(String(data)) as { type: string; seq?: number; epoch?: string; createdAt?: string }
      if (f.type === 'welcome') resolve()
      if (f.type !== 'notification') return
      client.received++
      client.latencies.push(Date.now() - Date.parse(f.createdAt!))
      ws.send(JSON.stringify({ type: 'ack', seq: f.seq }))
    })
    ws.once('error', reject)
  })
  return client
}

export async function runTracing(o: {
  users: number
  rate: number
  seconds: number
  burst: number
  rounds: number
  logDir: string
}): Promise<TracingResult> {
  const { kafkaBrokers, redisUrl } = infraFromEnv()
  const jaeger = await startJaeger()
  const producer = await connectProducer(kafkaBrokers)
  const modes: TracingModeResult[] = []
  try {
    for (let round = 1; round <= o.rounds; round++)
      for (const mode of TRACING_MODES) {
        process.stderr.write(`   tracing ${mode}, round ${round}\n`)
        const env = { ...otelEnv(mode, jaeger), LOG_LEVEL: 'warn' }
        const slug = mode === 'off' ? 'off' : mode.replace('%', 'pct')
        const stack = await startStack({
          name: `bench-tracing-${slug}-${round}`,
          redisUrl,
          kafkaBrokers,
          gateways: 1,
          partitions: 6,
          gatewayEnv: env,
          dispatcherEnv: env,
        })
        const clients: Client[] = []
        try {
          const users = Array.from(
            { length: o.users },
            (_, i) => `bench-tr-${slug}-${round}-${i}-${randomUUID().slice(0, 8)}`,
          )
          for (const u of users) clients.push(await connect(stack.gateways[0]!.baseUrl, u))
          const pids = { dispatcher: stack.dispatcher!.pid!, gateway: stack.gateways[0]!.pid! }
          let sent = 0
          const send = (n: number) => {
            const messages = Array.from({ length: n }, () => {
              const borrowerId = users[sent++ % users.length]!
              const event = {
                eventId: randomUUID(),
                occurredAt: new Date().toISOString(),
                borrowerId,
                loanId: `L-${sent}`,
                decision: 'APPROVED',
                locale: 'en',
              }
              return { key: borrowerId, value: JSON.stringify(event) }
            })
            return producer.send({ topic: stack.topics.loanDecisions, acks: -1, messages })
          }
          const phase = async (run: () => Promise<number>): Promise<TracingPhase> => {
            for (const c of clients) {
              c.latencies = []
              c.received = 0
            }
            const cpu0 = { d: cpuMs(pids.dispatcher), g: cpuMs(pids.gateway) }
            const t0 = performance.now()
            const events = await run()
            await waitFor(() => clients.reduce((s, c) => s + c.received, 0) >= events, {
              timeoutMs: 120_000,
              intervalMs: 20,
              message: `${mode}: clients did not get all ${events} notifications`,
            })
            const seconds = (performance.now() - t0) / 1000
            const received = clients.reduce((s, c) => s + c.received, 0)
            const per = (ms: number) => +((ms * 1000) / received).toFixed(1)
            return {
              events,
              received,
              seconds: +seconds.toFixed(2),
              perSecond: Math.round(received / seconds),
              latencyMs: percentiles(clients.flatMap((c) => c.latencies)),
              // µs of CPU per notification
              cpuMsPerNotification: {
                dispatcher: per(cpuMs(pids.dispatcher) - cpu0.d),
                gateway: per(cpuMs(pids.gateway) - cpu0.g),
              },
            }
          }
          // warm-up: code compiled, connections and scripts in place
          await send(200)
          await waitFor(() => clients.reduce((s, c) => s + c.received, 0) >= 200, { timeoutMs: 60_000 })
          const steady = await phase(async () => {
            const total = o.rate * o.seconds
            const tick = 50
            const perTick = Math.max(1, Math.round((o.rate * tick) / 1000))
            const start = performance.now()
            let done = 0
            while (done < total) {
              const n = Math.min(perTick, total - done)
              await send(n)
              done += n
              const due = start + (done / o.rate) * 1000
              const wait = due - performance.now()
              if (wait > 0) await new Promise((r) => setTimeout(r, wait))
            }
            return total
          })
          const burst = await phase(async () => {
            for (let left = o.burst; left > 0; left -= 500) await send(Math.min(500, left))
            return o.burst
          })
          modes.push({ mode, round, steady, burst })
        } finally {
          for (const c of clients) c.ws.terminate()
          await stack.stop()
        }
      }
  } finally {
    await producer.disconnect()
    await jaeger.stop()
  }
  return { users: o.users, rate: o.rate, seconds: o.seconds, burst: o.burst, rounds: o.rounds, modes }
}
