// End to end, as a user sees it: Kafka produce → client receipt, Tidings beside its peers, same run,
// same box. For each system (lib/e2e-systems.ts): `servers` server processes (2 by default) on a private
// Redis, fed from a fresh topic of the run's Kafka; `users` clients (split evenly over the servers, one
// socket each, no acks; load-generator processes per server); one
// producer (this process) at fixed rates, then a ladder up to the highest rate sustained without a
// growing backlog. Per rate: p50/p95/p99/max, loss, p99 per second over the window, CPU per notification
// of every process (servers, Redis, Kafka; /proc/<pid>/stat above each one's idle floor). Per system:
// RSS per socket of the servers (no forced GC: Centrifugo has no inspector).
import { setTimeout as delay } from 'node:timers/promises'
import { Kafka, logLevel, type Message, type Producer } from 'kafkajs'
// the producer without kafkajs's 1 ms timer loop per connection, as the dispatcher runs: less of the box
// goes to the measuring side
import '../../services/dispatcher/src/kafkajs-idle-loop.ts'
import {
  cpuMicrosPerNotification,
  inWindow,
  type LatencySummary,
  ladder,
  p99PerSecond,
  type Sample,
  type SecondBucket,
  summarize,
  sustained,
  usersPerServer,
} from './lib/e2e-stats.ts'
import { type RunningSystem, START, SYSTEM_LABELS, SYSTEMS, type SystemName } from './lib/e2e-systems.ts'
import { type Fleet, openFleet } from './lib/loadgen-client.ts'
import { cpuMs, fileLimitFor, machineCpu, rssKiB } from './lib/proc.ts'
import { BENCH_JWT_SECRET } from './lib/servers.ts'

export interface E2eOptions {
  systems: SystemName[]
  users: number
  rates: number[]
  seconds: number
  /** Ladder after the fixed rates: step and ceiling (0 = no ladder). */
  ladderStep: number
  ladderMax: number
  partitions: number
  /** Server processes per system; the users are split evenly over them. */
  servers: number
  /** Settings added to the Tidings dispatcher's environment (what-ifs, e.g. PARTITIONS_CONSUMED_CONCURRENTLY). */
  dispatcherEnv?: Record<string, string>
  brokers: string[]
  kafkaPid: number
  logDir: string
}

export interface StepResult {
  rate: number
  phase: 'warm-up' | 'fixed' | 'ladder'
  produced: number
  received: number
  /** Produced in the window, not received by the end of the drain deadline. */
  lost: number
  /** Events the producer could not put into Kafka (not counted as lost; the step is not sustained). */
  produceErrors: number
  /** Produced − received when the producer stopped: above one second of traffic = falling behind. */
  backlogAtEnd: number
  sustained: boolean
  /** Rate the producer actually achieved (it may fall short on a saturated box). */
  producedPerSecond: number
  latencyMs: LatencySummary
  p99PerSecond: SecondBucket[]
  /** µs of CPU per delivered notification above the idle floor, per process role, and their sum. */
  cpuMicros: Record<string, number>
  cpuMicrosTotal: number
  /**
   * µs of CPU per delivered notification of the measuring side, not in the total: the load
   * generators' clients and this process (the producer). They share the box with the system.
   */
  harnessMicros: { loadgens: number; producer: number }
  /** Share of the machine's CPU time (all cores, any process) that was busy during the step. */
  boxBusy: number
  wallSeconds: number
}

export interface SystemResult {
  system: SystemName
  label: string
  users: number
  connected: number
  connectFailed: number
  connectSeconds: number
  /** (RSS of the servers after the clients connected − before) / clients. */
  rssPerSocketKiB: number
  idleCpuMsPerSecond: Record<string, number>
  steps: StepResult[]
  /** Highest rate of the run with sustained = true (fixed or ladder), 0 if none. */
  highestSustained: number
  error?: string
}

const hrMs = () => Number(process.hrtime.bigint()) / 1e6
const log = (line: string) => process.stderr.write(`${line}\n`)

function event(user: string, i: number, tag: string): string {
  return JSON.stringify({
    eventId: `e-${tag}-${i}`,
    occurredAt: new Date().toISOString(),
    borrowerId: user,
    // produce time, read back by the client (lib/protocol.ts sentAtNs): every system delivers loanId
    loanId: `t${process.hrtime.bigint()}`,
    decision: 'APPROVED',
    amount: { value: 50000, currency: 'BDT' },
    reasonCode: null,
    locale: 'en',
  })
}

class Run {
  samples: Sample[] = []
  produced = 0
  produceErrors = 0
  private seq = 0
  readonly sys: RunningSystem
  readonly producer: Producer
  readonly fleets: Fleet[]
  readonly users: number
  readonly userPrefix: string
  constructor(sys: RunningSystem, producer: Producer, fleets: Fleet[], users: number, userPrefix: string) {
    this.sys = sys
    this.producer = producer
    this.fleets = fleets
    this.users = users
    this.userPrefix = userPrefix
  }

  /** Notifications the clients held before this run produced anything. */
  base = 0

  /**
   * Before a step: waits until what earlier steps produced has arrived (an unsustained rate leaves a
   * backlog in Kafka that would otherwise land in the next step), or nothing moved for 5 s; ≤ 120 s.
   */
  async settle(): Promise<void> {
    const deadline = performance.now() + 120_000
    let last = -1
    let lastMove = performance.now()
    for (;;) {
      const got = (await this.received()) - this.base
      // events in refused produce requests are not on their way
      const expected = this.produced - this.produceErrors
      if (got >= expected || performance.now() > deadline) return
      if (got !== last) {
        if (last >= 0)
          log(`  ${this.sys.name}: waiting for the previous backlog (${expected - got} on their way)`)
        last = got
        lastMove = performance.now()
      } else if (performance.now() - lastMove > 5000) return
      await delay(1000) // polling the load generators' counters
    }
  }

  async received(): Promise<number> {
    let n = 0
    for (const f of this.fleets) n += (await f.stats()).notifications
    return n
  }

  /** Moves every latency the load generators hold into `samples`. */
  async pull(): Promise<void> {
    for (const f of this.fleets) {
      const s = await f.stats(true)
      const l = s.latenciesMs ?? []
      const t = s.sentMs ?? []
      for (let i = 0; i < l.length; i++) this.samples.push({ sentMs: t[i]!, latencyMs: l[i]! })
    }
  }

  /**
   * Sends up to `count` events (round robin over the users) without waiting for the acks, while fewer
   * than MAX_IN_FLIGHT requests are in flight (the rest go on the next call). At most SEND_MAX per
   * request: a producer that fell behind on a saturated box catches up in several, not in one whose
   * per-partition batch Kafka refuses (message.max.bytes, 1 MB).
   */
  send(count: number, inflight: Set<Promise<unknown>>): void {
    for (let from = 0; from < count && inflight.size < MAX_IN_FLIGHT; from += SEND_MAX) {
      const n = Math.min(SEND_MAX, count - from)
      const messages: Message[] = []
      for (let k = 0; k < n; k++) {
        const i = this.seq++
        const user = `${this.userPrefix}${i % this.users}`
        messages.push({ key: user, value: event(user, i, this.sys.name), headers: this.sys.headers(user) })
      }
      this.produced += n
      const p = this.producer
        .send({ topic: this.sys.topic, messages })
        .catch(() => {
          this.produceErrors += n
        })
        .finally(() => inflight.delete(p))
      inflight.add(p)
    }
  }
}

// ~1,000 events of ~300 B: well under Kafka's 1 MB per partition batch even all on one partition
const SEND_MAX = 1000
const MAX_IN_FLIGHT = 200

function cpuOf(sys: RunningSystem): Record<string, number> {
  return Object.fromEntries(sys.procs.map((p) => [p.role, cpuMs(p.pid)]))
}

/** CPU ms so far of the measuring side: the load generator processes, and this one. */
function harnessCpu(run: Run): { loadgens: number; producer: number } {
  const loadgens = run.fleets.flatMap((f) => f.pids).reduce((sum, pid) => sum + cpuMs(pid), 0)
  const { user, system } = process.cpuUsage()
  return { loadgens, producer: (user + system) / 1000 }
}

async function step(
  run: Run,
  rate: number,
  seconds: number,
  phase: StepResult['phase'],
  idle: Record<string, number>,
): Promise<StepResult> {
  const total = Math.round(rate * seconds)
  await run.settle()
  await run.pull()
  run.samples = []
  const receivedBefore = await run.received()
  const producedBefore = run.produced
  const produceErrorsBefore = run.produceErrors
  const inflight = new Set<Promise<unknown>>()
  const c0 = cpuOf(run.sys)
  const h0 = harnessCpu(run)
  const box0 = machineCpu()
  const t0 = hrMs()
  const wall0 = performance.now()
  let lastReport = wall0
  // fixed rate: every 10 ms, send what is due by now (bounded by `total` and by the requests in flight)
  while (run.produced - producedBefore < total) {
    const due = Math.min(total, Math.floor(((performance.now() - wall0) / 1000) * rate))
    const n = due - (run.produced - producedBefore)
    if (n > 0) run.send(n, inflight)
    if (performance.now() - lastReport >= 1000) {
      lastReport = performance.now()
      const got = (await run.received()) - receivedBefore
      const sent = run.produced - producedBefore
      log(
        `  ${run.sys.name} ${rate}/s  ${((lastReport - wall0) / 1000).toFixed(0)} s: produced ${sent}, received ${got}, backlog ${sent - got}`,
      )
    }
    await delay(10) // pacing of the load
  }
  const tEnd = hrMs()
  const produceSeconds = (performance.now() - wall0) / 1000
  await Promise.all(inflight)
  // Events in refused produce requests are not the system's backlog nor its loss, but the rate was not
  // offered either: the step is not sustained. (kafkajs rejects a request when any of its partitions
  // fails, so some of them may have been written: the figures then undercount, hence clamped at 0.)
  const produceErrors = run.produceErrors - produceErrorsBefore
  const backlogAtEnd = Math.max(0, total - produceErrors - ((await run.received()) - receivedBefore))
  // drain, bounded: what has not arrived by then counts as lost
  const deadline = performance.now() + Math.max(10, seconds) * 1000
  while ((await run.received()) - receivedBefore < total - produceErrors && performance.now() < deadline)
    await delay(100)
  const wallSeconds = (performance.now() - wall0) / 1000
  const c1 = cpuOf(run.sys)
  const h1 = harnessCpu(run)
  const box1 = machineCpu()
  await run.pull()
  const mine = inWindow(run.samples, t0, tEnd + 1)
  const received = mine.length
  const cpuMicros: Record<string, number> = {}
  for (const role of Object.keys(c0)) {
    cpuMicros[role] = cpuMicrosPerNotification({
      cpuMs: c1[role]! - c0[role]!,
      idleMsPerSecond: idle[role] ?? 0,
      wallSeconds,
      notifications: received,
    })
  }
  const lost = Math.max(0, total - produceErrors - received)
  const r: StepResult = {
    rate,
    phase,
    produced: total,
    received,
    lost,
    backlogAtEnd,
    produceErrors,
    sustained: sustained({ rate, produced: total, backlogAtEnd, lost }) && produceErrors === 0,
    producedPerSecond: Math.round(total / produceSeconds),
    latencyMs: summarize(mine.map((x) => x.latencyMs)),
    p99PerSecond: p99PerSecond(mine, t0),
    cpuMicros,
    cpuMicrosTotal: +Object.values(cpuMicros)
      .reduce((s, v) => s + (Number.isFinite(v) ? v : 0), 0)
      .toFixed(1),
    harnessMicros: {
      loadgens: +(((h1.loadgens - h0.loadgens) * 1000) / Math.max(1, received)).toFixed(1),
      producer: +(((h1.producer - h0.producer) * 1000) / Math.max(1, received)).toFixed(1),
    },
    boxBusy: +((box1.busy - box0.busy) / Math.max(1, box1.total - box0.total)).toFixed(3),
    wallSeconds: +wallSeconds.toFixed(1),
  }
  const l = r.latencyMs
  log(
    `  ${run.sys.name} ${rate}/s: p50 ${l.p50} p95 ${l.p95} p99 ${l.p99} ms, lost ${lost}, backlog at end ${backlogAtEnd}${produceErrors ? `, ${produceErrors} refused by Kafka` : ''}, ${r.cpuMicrosTotal} µs CPU/notification${r.sustained ? '' : ' — NOT sustained'}`,
  )
  return r
}

/** Produces a trickle until the first notification arrives (consumers assigned, pipeline warm). */
async function warmUp(run: Run, timeoutMs = 120_000): Promise<void> {
  const deadline = performance.now() + timeoutMs
  const inflight = new Set<Promise<unknown>>()
  const before = await run.received()
  while ((await run.received()) === before) {
    if (performance.now() > deadline)
      throw new Error(`${run.sys.name}: no notification arrived within ${timeoutMs} ms of producing`)
    run.send(10, inflight)
    await delay(250) // pacing of the trickle
  }
  await Promise.all(inflight)
  // a few seconds of moderate traffic: JIT, pools and Kafka fetch sessions settled before measuring
  await step(run, Math.min(500, Math.max(50, run.users)), 3, 'warm-up', {})
}

async function idleFloor(sys: RunningSystem, seconds: number): Promise<Record<string, number>> {
  const c0 = cpuOf(sys)
  await delay(seconds * 1000) // the measurement window itself
  const c1 = cpuOf(sys)
  return Object.fromEntries(Object.keys(c0).map((k) => [k, +((c1[k]! - c0[k]!) / seconds).toFixed(2)]))
}

function emptyResult(name: SystemName, users: number): SystemResult {
  return {
    system: name,
    label: SYSTEM_LABELS[name],
    users,
    connected: 0,
    connectFailed: 0,
    connectSeconds: 0,
    rssPerSocketKiB: Number.NaN,
    idleCpuMsPerSecond: {},
    steps: [],
    highestSustained: 0,
  }
}

/** Fills `result` as it goes: a system failing midway keeps the steps it completed. */
async function runSystem(
  name: SystemName,
  o: E2eOptions,
  producer: Producer,
  result: SystemResult,
): Promise<void> {
  log(`\n-- ${SYSTEM_LABELS[name]}: starting`)
  const nofile = fileLimitFor(o.users)
  const sys = await START[name]({
    brokers: o.brokers,
    kafkaPid: o.kafkaPid,
    logDir: o.logDir,
    nofile,
    partitions: o.partitions,
    servers: o.servers,
    dispatcherEnv: o.dispatcherEnv ?? {},
  })
  const fleets: Fleet[] = []
  try {
    const rssBefore = sys.serverPids.reduce((s, pid) => s + rssKiB(pid), 0)
    const prefix = `u${process.pid}s${SYSTEMS.indexOf(name)}-`
    const t0 = performance.now()
    const counts = usersPerServer(o.users, sys.wsUrls.length)
    let from = 0
    for (const [k, url] of sys.wsUrls.entries()) {
      const count = counts[k]!
      if (count <= 0) continue
      fleets.push(
        await openFleet({
          name: `e2e-${name}-${k}`,
          url,
          sockets: count,
          from,
          userPrefix: prefix,
          secret: BENCH_JWT_SECRET,
          logDir: o.logDir,
          track: true,
          protocol: sys.protocol,
        }),
      )
      from += count
    }
    result.connectSeconds = +((performance.now() - t0) / 1000).toFixed(1)
    result.connected = fleets.reduce((s, f) => s + f.opened, 0)
    result.connectFailed = fleets.reduce((s, f) => s + f.failed, 0)
    log(
      `  ${result.connected} clients connected in ${result.connectSeconds} s (${result.connectFailed} failed)`,
    )
    if (result.connectFailed)
      throw new Error(`clients failed to connect: ${fleets.flatMap((f) => f.errors).join('; ')}`)
    await delay(2000) // let the servers settle after the connect burst before sampling RSS
    result.rssPerSocketKiB = +(
      (sys.serverPids.reduce((s, pid) => s + rssKiB(pid), 0) - rssBefore) /
      o.users
    ).toFixed(2)
    const run = new Run(sys, producer, fleets, o.users, prefix)
    run.base = await run.received()
    await warmUp(run)
    result.idleCpuMsPerSecond = await idleFloor(sys, Math.min(5, o.seconds))
    const record = (r: StepResult) => {
      result.steps.push(r)
      if (r.sustained) result.highestSustained = Math.max(result.highestSustained, r.rate)
    }
    for (const rate of o.rates) record(await step(run, rate, o.seconds, 'fixed', result.idleCpuMsPerSecond))
    if (o.ladderStep > 0) {
      const start = result.highestSustained > 0 ? result.highestSustained + o.ladderStep : o.ladderStep
      for (const rate of ladder(start, o.ladderStep, o.ladderMax)) {
        if (result.steps.some((s) => s.rate === rate)) continue
        const r = await step(run, rate, o.seconds, 'ladder', result.idleCpuMsPerSecond)
        record(r)
        if (!r.sustained) break
      }
    }
  } finally {
    await Promise.all(fleets.map((f) => f.close()))
    await sys.stop()
  }
}

export async function runE2e(o: E2eOptions): Promise<SystemResult[]> {
  const kafka = new Kafka({
    clientId: 'tidings-bench-producer',
    brokers: o.brokers,
    logLevel: logLevel.ERROR,
  })
  const producer = kafka.producer({ allowAutoTopicCreation: false })
  await producer.connect()
  const out: SystemResult[] = []
  try {
    for (const name of o.systems) {
      const result = emptyResult(name, o.users)
      out.push(result)
      try {
        await runSystem(name, o, producer, result)
      } catch (err) {
        log(`-- ${name} FAILED: ${(err as Error).stack}`)
        result.error = (err as Error).message.split('\n')[0]
      }
    }
  } finally {
    await producer.disconnect()
  }
  return out
}
