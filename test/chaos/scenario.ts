// One chaos run: users connected through the SDK (@tidings/client, WebSocket, SSE off so the wire can
// be counted), a producer sending uniquely identified events at a fixed rate — each user's events
// numbered 1, 2, 3 … — and the faults spread over the production window. Then it waits until every
// event is shown or nothing moves any more, and reports what the ledger says.
import { createTidingsClient, type TidingsClient } from '@tidings/client'
import type { NotificationFrame } from '@tidings/contracts'
import { Kafka, logLevel, Partitioners, type Producer } from 'kafkajs'
import { waitFor } from '../infra/index.ts'
import { signUserToken } from '../support/tokens.ts'
import { type ChaosCluster, startChaosCluster } from './cluster.ts'
import { Ledger, type LedgerReport } from './ledger.ts'

export type FaultKind = 'gateway' | 'dispatcher' | 'redis' | 'kafka'

export interface ChaosOptions {
  users: number
  events: number
  ratePerSecond: number
  gateways: number
  dispatchers: number
  partitions: number
  /** Injected in this order, evenly spaced over the production window. */
  faults: FaultKind[]
  /** Progress lines (the CLI prints them; the test keeps quiet). */
  log?: (line: string) => void
}

export interface ChaosResult extends LedgerReport {
  options: Omit<ChaosOptions, 'log'>
  /** Processes that exited by themselves (and were restarted, as a pod's container would be). */
  crashes: string[]
  durationMs: number
  logDir: string
}

// WHATWG WebSocket whose raw notification frames are counted before the SDK sees (and dedupes) them.
function countingWebSocket(ledger: Ledger): typeof WebSocket {
  return class extends WebSocket {
    constructor(url: string | URL, protocols?: string | string[]) {
      super(url, protocols)
      this.addEventListener('message', (event) => {
        if (typeof event.data === 'string' && event.data.startsWith('{"type":"notification"'))
          ledger.noteRawFrame()
      })
    }
  }
}

export async function runChaos(opts: ChaosOptions): Promise<ChaosResult> {
  const log = opts.log ?? (() => {})
  const t0 = Date.now()
  const now = () => Date.now() - t0
  const ledger = new Ledger()
  log(`starting Kafka, Redis (AOF), ${opts.gateways} gateways, ${opts.dispatchers} dispatchers`)
  const cluster = await startChaosCluster(opts)
  let failed = true
  const clients: TidingsClient[] = []
  let producer: Producer | undefined
  try {
    const users = Array.from({ length: opts.users }, (_, i) => `chaos-u${i}`)
    log(`connecting ${users.length} SDK clients`)
    const urls = cluster.gatewayUrls()
    const WebSocketImpl = countingWebSocket(ledger)
    for (const [i, user] of users.entries()) {
      const token = await signUserToken(user, { expiresInS: 3600 })
      const client = createTidingsClient({
        // each client starts on another gateway, then goes round the others on reconnects
        urls: urls.map((_, j) => urls[(i + j) % urls.length] as string),
        getToken: () => token,
        sse: false,
        WebSocket: WebSocketImpl,
        backoff: { baseMs: 200, capMs: 2000 },
        onNotification: (n: NotificationFrame) => ledger.noteShown(user, Number(n.data.n), now()),
      })
      client.on('missed', () => ledger.noteMissed(user))
      clients.push(client)
    }
    for (let i = 0; i < clients.length; i += 200)
      await Promise.all(clients.slice(i, i + 200).map((c) => c.connect()))

    producer = new Kafka({
      clientId: 'chaos-producer',
      brokers: cluster.kafka.brokers,
      logLevel: logLevel.NOTHING,
    })
      // one request in flight: a retried batch can never overtake the next one
      .producer({ createPartitioner: Partitioners.DefaultPartitioner, maxInFlightRequests: 1 })
    await producer.connect()

    const productionMs = (opts.events / opts.ratePerSecond) * 1000
    const faultAt = opts.faults.map((kind, i) => ({
      kind,
      at: ((i + 1) * productionMs) / (opts.faults.length + 1),
    }))
    log(
      `producing ${opts.events} events at ${opts.ratePerSecond}/s; faults at ${faultAt.map((f) => `${f.kind}@${Math.round(f.at / 1000)}s`).join(', ')}`,
    )
    const faults = injectFaults(cluster, faultAt, ledger, now, log)
    await produce(producer, cluster.topic, users, opts, ledger, now, log)
    await faults

    // everything shown, or nothing shown for 30 s
    let last = -1
    let lastChange = Date.now()
    await waitFor(
      () => {
        if (ledger.shownCount !== last) {
          last = ledger.shownCount
          lastChange = Date.now()
        }
        return ledger.shownCount >= ledger.producedCount || Date.now() - lastChange > 30_000
      },
      { timeoutMs: 600_000, intervalMs: 200 },
    )
    const report = ledger.report(users.length)
    failed = report.lost + report.shownTwice + report.outOfOrder + report.missedSignals > 0
    const { log: _log, ...options } = opts
    return { ...report, options, crashes: cluster.crashes, durationMs: now(), logDir: cluster.logDir }
  } finally {
    await Promise.allSettled(clients.map((c) => c.close()))
    await producer?.disconnect().catch(() => {})
    await cluster.stop(failed)
  }
}

async function produce(
  producer: Producer,
  topic: string,
  users: string[],
  opts: ChaosOptions,
  ledger: Ledger,
  now: () => number,
  log: (line: string) => void,
): Promise<void> {
  const counters = new Map<string, number>()
  const tickMs = 100
  const perTick = Math.max(1, Math.round((opts.ratePerSecond * tickMs) / 1000))
  const start = Date.now()
  let sent = 0
  let retries = 0
  for (let tick = 0; sent < opts.events; tick++) {
    const due = start + tick * tickMs
    if (due > Date.now()) await new Promise((r) => setTimeout(r, due - Date.now())) // pacing, not synchronisation
    const messages = []
    for (let k = 0; k < perTick && sent < opts.events; k++, sent++) {
      const user = users[sent % users.length] as string
      const n = (counters.get(user) ?? 0) + 1
      counters.set(user, n)
      ledger.noteProduced(user, n, now())
      messages.push({
        key: user,
        value: JSON.stringify({
          eventId: `${user}-${n}`,
          occurredAt: new Date().toISOString(),
          userId: user,
          kind: 'chaos',
          title: `event ${n}`,
          body: '',
          data: { n },
        }),
      })
    }
    // Unavailable Kafka (the broker restart): retry the same records — same event ids — until
    // they are in. The dispatcher's dedupe makes a record sent twice one notification.
    for (;;) {
      try {
        await producer.send({ topic, acks: -1, messages })
        break
      } catch {
        retries++
        await new Promise((r) => setTimeout(r, 200))
      }
    }
    if (tick % 50 === 0) log(`  +${Math.round(now() / 1000)}s produced ${sent}, shown ${ledger.shownCount}`)
  }
  if (retries > 0) log(`  producer retried ${retries} sends`)
}

async function injectFaults(
  cluster: ChaosCluster,
  faults: Array<{ kind: FaultKind; at: number }>,
  ledger: Ledger,
  now: () => number,
  log: (line: string) => void,
): Promise<void> {
  const start = Date.now()
  let gateway = 0
  let dispatcher = 0
  for (const f of faults) {
    const wait = start + f.at - Date.now()
    if (wait > 0) await new Promise((r) => setTimeout(r, wait)) // the schedule, not synchronisation
    const name =
      f.kind === 'gateway'
        ? `SIGKILL gateway-${(gateway % cluster.gateways.length) + 1}`
        : f.kind === 'dispatcher'
          ? `SIGKILL dispatcher-${dispatcher + 1}`
          : f.kind === 'redis'
            ? 'restart Redis (AOF)'
            : 'restart Kafka broker'
    ledger.noteFault(name, now())
    log(`  +${Math.round(now() / 1000)}s fault: ${name}`)
    if (f.kind === 'gateway') await cluster.killGateway(gateway++ % cluster.gateways.length)
    else if (f.kind === 'dispatcher') await cluster.killDispatcher(dispatcher++)
    else if (f.kind === 'redis') await cluster.restartRedis()
    else await cluster.restartKafka()
  }
}
