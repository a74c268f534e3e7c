// `pnpm bench [-- <bench>...] [--option value...]`: runs the benchmarks one after another, prints a
// summary, writes test/bench/results/<timestamp>.json and appends the summary to test/bench/RESULTS.md.
// Benches: memory, heap, fanout, dispatcher, dispatcher-latency, redis-memory, tracing, e2e, scale
// (default: all but scale, in that order).
// Needs KAFKA_BROKERS / REDIS_URL (set by test/infra/cli.ts run, which `pnpm bench` goes through).
import { spawnSync } from 'node:child_process'
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { cpus, loadavg, tmpdir, totalmem } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { startRedis } from '@tidings/test/infra'
import { runDispatcher } from './dispatcher.ts'
import { runDispatcherLatency } from './dispatcher-latency.ts'
import { runE2e, type SystemResult } from './e2e.ts'
import { runFanout } from './fanout.ts'
import { e2eTable, writeE2ePlots } from './lib/e2e-report.ts'
import { DEFAULT_SYSTEMS, SYSTEMS, type SystemName, startProductionKafka } from './lib/e2e-systems.ts'
import { leftoverProcesses, liveChildren, repoRoot } from './lib/proc.ts'
import {
  DEFAULT_SERVER_KINDS,
  GATEWAY_PRODUCTION_NODE_OPTIONS,
  SERVER_KINDS,
  type ServerKind,
  setGatewayEnv,
  setNodeOptions,
} from './lib/servers.ts'
import { fanoutTable, heapTable, memoryTable, redisMemoryTable, tracingTable } from './lib/tables.ts'
import { runMemory } from './memory.ts'
import { runRedisMemory } from './redis-memory.ts'
import { runScale, runStorm } from './scale.ts'
import { runTracing } from './tracing.ts'

const BENCHES = [
  'memory',
  'heap',
  'fanout',
  'dispatcher',
  'dispatcher-latency',
  'redis-memory',
  'tracing',
  'e2e',
  'scale',
] as const
// not in a plain `pnpm bench`: 100,000 sockets want the machine to themselves
const OPT_IN: readonly Bench[] = ['scale']
type Bench = (typeof BENCHES)[number]

const usage = `usage: pnpm bench [-- [${BENCHES.join('|')}]... [options]]
  --sockets N          memory: idle sockets per server (default 18000)
  --servers a,b        memory: ${SERVER_KINDS.join(',')} (default: ${DEFAULT_SERVER_KINDS.join(',')})
  --baseline DIR       memory/heap: the checkout gateway-baseline runs from (e.g. a worktree of main)
  --rounds N           memory: measure the servers in turn N times (default 1; CPU per connect is noisy)
  --idle-seconds N     memory: how long each server is left alone once quiet, before the "quiet pod"
                       sample and the forced GCs (default 20: the gateway's compaction after a burst,
                       then V8's memory reducer, have run)
  --connect-profile DIR  memory: a CPU profile of each server while the sockets connect, written to
                       DIR/<server>-<round>.cpuprofile (Chrome DevTools opens it)
  --gateway-node-options S  NODE_OPTIONS of every gateway and gateway-baseline process of the benches
                       (default: the chart's --max-semi-space-size=4; '' = V8's defaults; --cpu-prof …)
  --gateway-env K=V,…  settings of the \`gateway\` server only, over the bench's (e.g. COMPACT_AFTER_SESSIONS=0
                       against a gateway-baseline of the same checkout: an A/B of one setting)
  --keep-logs          keep the servers' logs (their directory is printed at the end)
  --floor-node-options S  NODE_OPTIONS of the ws, fastify and ws-bare baselines (default: V8's defaults;
                       the gateway's flag for a like-for-like floor)
  --heap-sockets N     heap: sockets per server for the heap snapshots (default 2000)
  --heap-servers a,b   heap: default gateway,ws,fastify
  --targets N          fanout: users on gateway A that receive notifications (default 2000)
  --bystanders N       fanout: users on gateway B that receive nothing (default 2000)
  --extra N            fanout: idle sockets added to A for the second publish phase (default 6000)
  --rate N             fanout: notifications per second (default 500)
  --seconds N          fanout: length of each phase (default 10)
  --events N           dispatcher: events in the backlog (default 50000)
  --users N            dispatcher: distinct users (default 10000)
  --inbox-notifications N  redis-memory: notifications written (default 20000)
  --inbox-users a,b    redis-memory: one run per number of users (default 20000,1000,20: 1, 20 and
                       1,000 = INBOX_CAP notifications each)
  --trace-users N      tracing: connected users, each acking every notification (default 200)
  --trace-rate N       tracing: events per second in the steady phase (default 500)
  --trace-seconds N    tracing: length of the steady phase (default 10)
  --trace-burst N      tracing: events sent at once in the burst phase (default 5000)
  --trace-rounds N     tracing: the three modes run in turn this many times (default 2)
  --e2e-users N        e2e: clients, one user each, split evenly over the server processes (default 10000)
  --e2e-servers N      e2e: server processes (gateways) per system (default 2)
  --dispatcher-env K=V,K=V  e2e: settings added to the Tidings dispatcher (what-ifs)
  --e2e-rates a,b      e2e: fixed rates, notifications/s (default 2000,5000,10000)
  --e2e-seconds N      e2e: produce window per rate (default 30)
  --ladder-step N      e2e: ladder step above the highest sustained fixed rate; 0 = no ladder (default 1000)
  --ladder-max N       e2e: highest rate the ladder tries (default 30000)
  --ref-rate N         e2e: rate of the CPU and p99-per-second plots (default 5000, or the nearest measured)
  --systems a,b        e2e: of ${SYSTEMS.join(',')} (default: ${DEFAULT_SYSTEMS.join(',')})
  --plots DIR          e2e: where the SVG plots go (default docs/benchmarks; with --no-write: a temp dir)
  --scale-sockets N    scale: idle sockets in all (default 100000; not part of a plain \`pnpm bench\`)
  --gateways N         scale: gateway processes (default 6)
  --storm-clients N    scale: SDK clients on the gateway that is SIGKILLed (default 18000; 0 = no storm)
  --no-write           print only; do not write results/ and RESULTS.md`

const here = fileURLToPath(new URL('.', import.meta.url))
const argv = process.argv.slice(2).filter((a) => a !== '--')
const { values, positionals } = parseArgs({
  args: argv,
  allowPositionals: true,
  options: {
    sockets: { type: 'string', default: '18000' },
    servers: { type: 'string', default: DEFAULT_SERVER_KINDS.join(',') },
    baseline: { type: 'string' },
    'gateway-node-options': { type: 'string' },
    'floor-node-options': { type: 'string', default: '' },
    'gateway-env': { type: 'string', default: '' },
    'keep-logs': { type: 'boolean', default: false },
    rounds: { type: 'string', default: '1' },
    'idle-seconds': { type: 'string', default: '20' },
    'connect-profile': { type: 'string' },
    'heap-sockets': { type: 'string', default: '2000' },
    'heap-servers': { type: 'string', default: 'gateway,ws,fastify' },
    targets: { type: 'string', default: '2000' },
    bystanders: { type: 'string', default: '2000' },
    extra: { type: 'string', default: '6000' },
    rate: { type: 'string', default: '500' },
    seconds: { type: 'string', default: '10' },
    events: { type: 'string', default: '50000' },
    users: { type: 'string', default: '10000' },
    'inbox-notifications': { type: 'string', default: '20000' },
    'inbox-users': { type: 'string', default: '20000,1000,20' },
    'trace-users': { type: 'string', default: '200' },
    'trace-rate': { type: 'string', default: '500' },
    'trace-seconds': { type: 'string', default: '10' },
    'trace-burst': { type: 'string', default: '5000' },
    'trace-rounds': { type: 'string', default: '2' },
    'e2e-users': { type: 'string', default: '10000' },
    'e2e-servers': { type: 'string', default: '2' },
    'dispatcher-env': { type: 'string', default: '' },
    'e2e-rates': { type: 'string', default: '2000,5000,10000' },
    'e2e-seconds': { type: 'string', default: '30' },
    'ladder-step': { type: 'string', default: '1000' },
    'ladder-max': { type: 'string', default: '30000' },
    'ref-rate': { type: 'string', default: '5000' },
    systems: { type: 'string', default: DEFAULT_SYSTEMS.join(',') },
    plots: { type: 'string' },
    'scale-sockets': { type: 'string', default: '100000' },
    gateways: { type: 'string', default: '6' },
    'storm-clients': { type: 'string', default: '18000' },
    'no-write': { type: 'boolean', default: false },
    help: { type: 'boolean', default: false },
  },
})
if (values.help) {
  console.log(usage)
  process.exit(0)
}

function int(name: keyof typeof values, min: number, max: number): number {
  const n = Number(values[name])
  if (!Number.isInteger(n) || n < min || n > max) {
    console.error(`--${name} must be an integer in ${min}..${max}\n${usage}`)
    process.exit(2)
  }
  return n
}

function kinds(name: 'servers' | 'heap-servers'): ServerKind[] {
  const list = String(values[name])
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
  for (const k of list) {
    if (!(SERVER_KINDS as readonly string[]).includes(k)) {
      console.error(`--${name}: unknown server ${k}\n${usage}`)
      process.exit(2)
    }
  }
  if (list.includes('gateway-baseline') && !values.baseline) {
    console.error(`--${name}: gateway-baseline needs --baseline DIR\n${usage}`)
    process.exit(2)
  }
  return list as ServerKind[]
}

for (const p of positionals) {
  if (!(BENCHES as readonly string[]).includes(p)) {
    console.error(`unknown bench ${p}\n${usage}`)
    process.exit(2)
  }
}
function list<T extends string>(name: 'e2e-rates' | 'systems' | 'inbox-users', allowed?: readonly T[]): T[] {
  const items = String(values[name])
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean)
  for (const x of items) {
    const bad = allowed
      ? !allowed.includes(x as T)
      : !(Number.isInteger(Number(x)) && Number(x) >= 1 && Number(x) <= 200_000)
    if (bad) {
      console.error(`--${name}: bad value ${x}\n${usage}`)
      process.exit(2)
    }
  }
  return items as T[]
}

const selected: Bench[] = positionals.length
  ? (positionals as Bench[])
  : BENCHES.filter((b) => !OPT_IN.includes(b))
// ~19,000 sockets fit under the 20,000 open files a process may have here (server side)
const opts = {
  sockets: int('sockets', 100, 100_000),
  servers: kinds('servers'),
  heapSockets: int('heap-sockets', 100, 10_000),
  heapServers: kinds('heap-servers'),
  targets: int('targets', 1, 50_000),
  bystanders: int('bystanders', 0, 50_000),
  extra: int('extra', 0, 50_000),
  rate: int('rate', 1, 100_000),
  seconds: int('seconds', 1, 300),
  events: int('events', 1, 10_000_000),
  users: int('users', 1, 10_000_000),
  inboxNotifications: int('inbox-notifications', 1, 10_000_000),
  inboxUsers: list<string>('inbox-users').map(Number),
  traceUsers: int('trace-users', 1, 5000),
  traceRate: int('trace-rate', 1, 100_000),
  traceSeconds: int('trace-seconds', 1, 300),
  traceBurst: int('trace-burst', 1, 1_000_000),
  traceRounds: int('trace-rounds', 1, 10),
  e2eUsers: int('e2e-users', 2, 100_000),
  e2eServers: int('e2e-servers', 1, 8),
  e2eRates: list<string>('e2e-rates').map(Number),
  e2eSeconds: int('e2e-seconds', 2, 600),
  ladderStep: int('ladder-step', 0, 100_000),
  ladderMax: int('ladder-max', 1, 200_000),
  refRate: int('ref-rate', 1, 200_000),
  systems: list<SystemName>('systems', SYSTEMS),
  scaleSockets: int('scale-sockets', 10, 200_000),
  gateways: int('gateways', 1, 32),
  stormClients: int('storm-clients', 0, 19_000),
  rounds: int('rounds', 1, 10),
  idleSeconds: int('idle-seconds', 0, 600),
}

// the gateway as deployed (chart, compose, image): its young generation bounded
setNodeOptions({
  gateway: values['gateway-node-options'] ?? GATEWAY_PRODUCTION_NODE_OPTIONS,
  floor: values['floor-node-options'],
})
setGatewayEnv(
  Object.fromEntries(
    values['gateway-env']
      .split(',')
      .filter((kv) => kv !== '')
      .map((kv) => {
        const at = kv.indexOf('=')
        if (at < 1) {
          console.error(`--gateway-env: not K=V: ${kv}`)
          process.exit(2)
        }
        return [kv.slice(0, at), kv.slice(at + 1)]
      }),
  ),
)
const logDir = mkdtempSync(join(tmpdir(), 'tidings-bench-'))
const startedAt = new Date()
const host = {
  cpus: cpus().length,
  cpuModel: cpus()[0]?.model ?? '?',
  memGiB: Math.round(totalmem() / 2 ** 30),
  node: process.version,
  loadavgAtStart: loadavg().map((x) => +x.toFixed(2)),
  loadavgAtEnd: [] as number[],
}

const results: Record<string, unknown> = {}
const sections: string[] = []
let failed = false

async function step<T>(name: Bench, fn: () => Promise<T>, render: (r: T) => string): Promise<void> {
  if (!selected.includes(name)) return
  const t0 = performance.now()
  process.stderr.write(`\n== ${name}\n`)
  try {
    const r = await fn()
    results[name] = r
    sections.push(render(r))
    process.stderr.write(`== ${name} done in ${((performance.now() - t0) / 1000).toFixed(0)} s\n`)
  } catch (err) {
    failed = true
    results[name] = { error: (err as Error).message }
    sections.push(`**${name}: FAILED** — ${(err as Error).message.split('\n')[0]}`)
    process.stderr.write(`== ${name} FAILED: ${(err as Error).stack}\n`)
  }
}

const needsRedis = selected.some((b) => b === 'memory' || b === 'heap' || b === 'fanout' || b === 'scale')
// A private redis-server for the gateway benches: the numbers must not depend on what else uses the
// run's Redis (and 18k SSUBSCRIBEs should not land on someone else's server).
const redis = needsRedis ? await startRedis() : undefined
try {
  await step(
    'memory',
    () =>
      runMemory({
        sockets: opts.sockets,
        servers: opts.servers,
        redisUrl: redis!.url,
        logDir,
        rounds: opts.rounds,
        idleSeconds: opts.idleSeconds,
        ...(values.baseline !== undefined && { baselineRoot: values.baseline }),
        ...(values['connect-profile'] !== undefined && { connectProfileDir: values['connect-profile'] }),
      }),
    (r) => memoryTable(r, `memory per idle socket, ${opts.sockets} sockets per server (KiB = 1024 B)`),
  )
  await step(
    'heap',
    () =>
      runMemory({
        sockets: opts.heapSockets,
        servers: opts.heapServers,
        redisUrl: redis!.url,
        logDir,
        heapSnapshots: true,
        ...(values.baseline !== undefined && { baselineRoot: values.baseline }),
      }),
    (r) =>
      `${memoryTable(r, `heap-snapshot run, ${opts.heapSockets} sockets per server (RSS here is disturbed by the snapshots)`)}\n\n${heapTable(r)}`,
  )
  await step(
    'fanout',
    () =>
      runFanout({
        targets: opts.targets,
        bystanders: opts.bystanders,
        extra: opts.extra,
        rate: opts.rate,
        seconds: opts.seconds,
        redisUrl: redis!.url,
        logDir,
      }),
    fanoutTable,
  )
  await step(
    'dispatcher',
    () => runDispatcher({ events: opts.events, users: opts.users, concurrency: 4 }),
    (r) =>
      [
        `**dispatcher throughput** (backlog drain, in-process dispatcher, ${r.partitions} partitions, ${r.concurrency} consumed concurrently): ${r.events} events / ${r.users} users in ${r.drainSeconds} s = **${r.eventsPerSecond} events/s**; ${r.batches} Kafka batches (mean ${r.meanBatchSize} records); dispatcher CPU ${r.dispatcherCpuSeconds} s. After joining the group (${r.joinSeconds} s): **${r.eventsPerSecondAfterJoin} events/s**. CPU per event: dispatcher ${r.cpuMicrosPerEvent.dispatcher} µs, Redis ${r.cpuMicrosPerEvent.redis} µs.`,
        '',
        `Redis per event: EVALSHA ${r.perEvent.evalsha}, EVAL ${r.perEvent.eval}, all client commands ${r.perEvent.clientCommands}, round trips (total_reads_processed) ${r.perEvent.roundTrips}, ${r.perEvent.netInputBytes} bytes in. In-script calls: ${Object.entries(
          r.redisCalls,
        )
          .filter(([k]) => !['evalsha', 'eval', 'info'].includes(k))
          .map(([k, v]) => `${k} ${v}`)
          .join(', ')}.`,
      ].join('\n'),
  )
  await step(
    'dispatcher-latency',
    () => runDispatcherLatency({ events: 500, perSecond: 200, logDir }),
    (r) =>
      `**dispatcher latency** (services/dispatcher/bench/latency.ts: Kafka produce acks=-1 → SMESSAGE on the user's channel, ${r.events} events at ${r.perSecond}/s): p50 ${r.p50ms} ms, p90 ${r.p90ms} ms, p99 ${r.p99ms} ms, max ${r.maxMs} ms.`,
  )
  await step(
    'redis-memory',
    () => runRedisMemory({ notifications: opts.inboxNotifications, users: opts.inboxUsers }),
    redisMemoryTable,
  )
  await step(
    'tracing',
    () =>
      runTracing({
        users: opts.traceUsers,
        rate: opts.traceRate,
        seconds: opts.traceSeconds,
        burst: opts.traceBurst,
        rounds: opts.traceRounds,
        logDir,
      }),
    tracingTable,
  )
  await step(
    'e2e',
    async () => {
      // its own broker, JVM configured like production (the run's broker has the fast-start settings)
      const kafka = await startProductionKafka()
      process.stderr.write(`Kafka ${kafka.brokers[0]} (pid ${kafka.pid}) with ${kafka.jvmOpts}\n`)
      try {
        const systems = await runE2e({
          systems: opts.systems,
          users: opts.e2eUsers,
          rates: opts.e2eRates,
          seconds: opts.e2eSeconds,
          ladderStep: opts.ladderStep,
          ladderMax: opts.ladderMax,
          partitions: 6,
          servers: opts.e2eServers,
          dispatcherEnv: Object.fromEntries(
            (values['dispatcher-env'] ?? '')
              .split(',')
              .filter(Boolean)
              .map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]),
          ),
          brokers: kafka.brokers,
          kafkaPid: kafka.pid,
          logDir,
        })
        const dir =
          values.plots ??
          (values['no-write']
            ? mkdtempSync(join(tmpdir(), 'tidings-bench-plots-'))
            : join(repoRoot, 'docs/benchmarks'))
        const plots = writeE2ePlots(systems, dir, opts.refRate).map((f) => join(dir, f))
        if (systems.some((r) => r.error)) failed = true
        return { kafkaJvmOpts: kafka.jvmOpts, systems, plots }
      } finally {
        await kafka.stop()
      }
    },
    (r: { systems: SystemResult[]; plots: string[]; kafkaJvmOpts: string }) =>
      `${e2eTable(r.systems, { users: opts.e2eUsers, servers: opts.e2eServers, seconds: opts.e2eSeconds })}\n\nKafka JVM: \`${r.kafkaJvmOpts}\`. Plots: ${r.plots.map((p) => p.replace(repoRoot, '')).join(', ')}`,
  )
  await step(
    'scale',
    async () => {
      const idle = await runScale({
        sockets: opts.scaleSockets,
        gateways: opts.gateways,
        redisUrl: redis!.url,
        logDir,
      })
      const storm =
        opts.stormClients > 0
          ? await runStorm({
              clients: opts.stormClients,
              gateways: opts.gateways,
              rate: 1000,
              redisUrl: redis!.url,
              logDir,
            })
          : undefined
      return { ...idle, storm }
    },
    (r) =>
      [
        `**scale**: ${r.opened} of ${r.sockets} idle authenticated sockets open on ${r.gateways} gateways in ${r.connectSeconds} s (${r.failed} failed, ${r.retries} retried handshakes, ${r.unexpectedCloses} closed by a gateway while held)${r.errors.length ? `; errors: ${r.errors.join('; ')}` : ''}.`,
        '',
        '| gateway | tidings_ws_connections | RSS KiB/socket (no forced GC) |',
        '| --- | ---: | ---: |',
        ...r.perGateway.map((g) => `| ${g.name} | ${g.connections} | ${g.rssKiBPerSocket} |`),
        '',
        r.storm
          ? `**reconnect storm**: ${r.storm.clients} SDK clients (@tidings/client) on one of ${r.storm.gateways} gateways, notifications published to them at 1,000/s through the dispatcher's script; SIGKILL → all open again on the others in **${r.storm.resumeSeconds} s**; ${r.storm.published} published, ${r.storm.distinctShown} shown, **${r.storm.lost} lost** (${r.storm.publishErrors} publish errors).`
          : 'reconnect storm: skipped (--storm-clients 0)',
      ].join('\n'),
  )
} finally {
  await redis?.stop()
}

host.loadavgAtEnd = loadavg().map((x) => +x.toFixed(2))
const seconds = Math.round((Date.now() - startedAt.getTime()) / 1000)
const stamp = startedAt
  .toISOString()
  .replace(/:/g, '-')
  .replace(/\.\d+Z$/, 'Z')
const header = [
  `## ${startedAt.toISOString().slice(0, 16).replace('T', ' ')} UTC — \`pnpm bench${argv.length ? ` -- ${argv.join(' ')}` : ''}\`${failed ? ' (SOME BENCHES FAILED)' : ''}`,
  '',
  `${host.cpus} × ${host.cpuModel}, ${host.memGiB} GiB, Node ${host.node}; load average ${host.loadavgAtStart.join(' ')} at the start, ${host.loadavgAtEnd.join(' ')} at the end (the machine is shared: absolute times are noisy, compare ratios and per-socket figures); ${seconds} s.`,
].join('\n')
const summary = `${header}\n\n${sections.join('\n\n')}\n`
console.log(`\n${summary}`)

if (!values['no-write']) {
  const dir = join(here, 'results')
  mkdirSync(dir, { recursive: true })
  const file = join(dir, `${stamp}.json`)
  writeFileSync(file, `${JSON.stringify({ startedAt, argv, options: opts, host, results }, null, 2)}\n`)
  // in the repo's JSON style, so that `biome check` stays clean (best effort)
  spawnSync(join(repoRoot, 'node_modules/.bin/biome'), ['format', '--write', file], { stdio: 'ignore' })
  const md = join(here, 'RESULTS.md')
  if (!existsSync(md)) {
    writeFileSync(
      md,
      '# Benchmark results\n\nAppended by `pnpm bench` (newest last). See README.md for what each figure means.\n',
    )
  }
  appendFileSync(md, `\n${summary}`)
  // tables padded as biome formats Markdown, so that the lint of the next commit stays clean (best effort)
  spawnSync(join(repoRoot, 'node_modules/.bin/biome'), ['format', '--write', md], { stdio: 'ignore' })
  console.log(`written: ${file} and ${md}`)
}

const leftovers = leftoverProcesses()
if (liveChildren() > 0 || leftovers.length > 0) {
  console.error(`bench: processes still running (${leftovers.join(', ')}): killing them`)
  for (const pid of leftovers) process.kill(pid, 'SIGKILL')
  failed = true
} else console.log('no process left behind (checked /proc for TIDINGS_BENCH_PARENT_PID)')
if (failed || values['keep-logs']) console.error(`logs kept in ${logDir}`)
else rmSync(logDir, { recursive: true, force: true })
process.exit(failed ? 1 : 0)
