// Memory per idle socket: the headline figure.
//
// For each server kind, in turn and with the same N: start the server as its own process (started with
// `--inspect=127.0.0.1:0`, so the bench can force full GCs through the DevTools protocol without any hook
// in the service), warm it up with 200 sockets that are then closed, force a GC, sample its RSS
// (/proc/<pid>/status VmRSS, median of 5), open N idle authenticated sockets (distinct users) from
// separate load generator processes, wait until the server is idle, sample RSS again (as it is, after
// `idleSeconds` more of quiet, after one ordinary full GC, and after a last-resort GC that returns free
// pages to the OS) → (after − before) / N. `process.memoryUsage()` inside the server splits that into V8 heap
// and off-heap parts. With `heap`, a heap snapshot before and after gives objects per socket by
// constructor and what holds the request/response objects.
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { setTimeout as delay } from 'node:timers/promises'
import { type ClassDelta, diffHeaps, type HeapSummary, summarizeHeap, topRetainers } from './lib/heap.ts'
import { connectInspector, type MemoryUsage } from './lib/inspector.ts'
import { openFleet } from './lib/loadgen-client.ts'
import { cpuMs, fileLimitFor, openFileLimit, peakRssKiB, sampleRss, waitQuiet } from './lib/proc.ts'
import { BENCH_JWT_SECRET, SERVER_LABELS, type ServerKind, startServer } from './lib/servers.ts'
import { round } from './lib/stats.ts'

export interface MemoryOptions {
  sockets: number
  servers: readonly ServerKind[]
  redisUrl: string
  logDir: string
  /** `gateway-baseline`: the checkout it runs from. */
  baselineRoot?: string
  /**
   * The servers are measured in turn this many times (default 1): CPU per connect moves by ±30 %
   * with the load of the shared machine, so compare servers within a round and take medians.
   */
  rounds?: number
  /** Write a CPU profile of each server while its sockets connect here (`<kind>-<round>.cpuprofile`). */
  connectProfileDir?: string
  /** Take heap snapshots (use a small N: a snapshot of 18k sockets is hundreds of MB of JSON). */
  heapSnapshots?: boolean
  /**
   * How long the server is left alone once its sockets are open and it went quiet, before the
   * "idle pod" sample and the forced GCs (default 20 s): what a pod holds a little after a storm,
   * with whatever the server and V8 do by themselves meanwhile (the gateway's compaction after a
   * burst, then V8's memory reducer, ~8 s later).
   */
  idleSeconds?: number
}

export interface ServerMemory {
  kind: ServerKind
  label: string
  /** 1-based, with `rounds`. */
  round: number
  sockets: number
  failed: number
  retries: number
  connectSeconds: number
  /**
   * CPU time of the server process (utime + stime, all threads, /proc) from the first handshake
   * until the last socket got its `welcome`, per socket opened, µs. 10 ms ticks: fine at N ≥ 2,000.
   */
  cpuPerConnectUs: number
  /** What the server itself reports once all are open (gateway: /metrics; baselines: /stats). */
  serverCounts: { sockets: number; channels: number }
  /** Whether the server went idle (< 3% CPU over 1 s) before the "after" samples. */
  quiet: boolean
  rssKiB: {
    before: number
    settled: number
    idle: number
    afterOrdinaryGc: number
    afterGc: number
    peak: number
  }
  v8: { before: MemoryUsage; after: MemoryUsage }
  perSocket: {
    /** (RSS after a last-resort GC − RSS before) / N, KiB: the best case, what the heap itself needs. */
    rssKiB: number
    /** (RSS after one ordinary full GC − RSS before) / N, KiB: what a running pod holds; size pods by it. */
    rssOrdinaryGcKiB: number
    /** Same without forcing a GC, as soon as the server went quiet, KiB. */
    rssSettledKiB: number
    /** Same `idleSeconds` later, still without forcing a GC: what a quiet pod holds after a storm, KiB. */
    rssIdleKiB: number
    heapUsedBytes: number
    externalBytes: number
  }
  heap?: { perSocket: ClassDelta[]; retainers: Record<string, Array<[string, number]>> }
}

const RETAINED = [
  'IncomingMessage',
  'ServerResponse',
  '_Request',
  '_Reply',
  'Session',
  'WebSocket',
  'Socket',
  'Receiver',
]

let runCounter = 0

export async function measureServer(kind: ServerKind, o: MemoryOptions, roundNo = 1): Promise<ServerMemory> {
  const run = `${process.pid}-${++runCounter}`
  const nofile = fileLimitFor(o.sockets)
  const server = await startServer(kind, {
    redisUrl: o.redisUrl,
    logDir: o.logDir,
    nofile,
    inspect: true,
    ...(o.baselineRoot !== undefined && { baselineRoot: o.baselineRoot }),
  })
  const { pid } = server.proc
  const limit = openFileLimit(pid)
  if (limit < o.sockets + 100) {
    await server.proc.stop()
    throw new Error(`${kind}: open-file limit ${limit} is too low for ${o.sockets} sockets`)
  }
  const fleetBase = { url: server.wsUrl, secret: BENCH_JWT_SECRET, logDir: o.logDir }
  try {
    const inspector = await connectInspector(await server.proc.inspectorUrl())
    try {
      // Warm-up: code paths compiled, pools and lazily created structures in place before "before".
      const warm = await openFleet({
        ...fleetBase,
        name: `${kind}-warmup`,
        sockets: 200,
        userPrefix: `bw${run}-`,
      })
      await warm.close()
      await waitForCount(server, 0)
      await waitQuiet(pid)
      await inspector.collectGarbage()
      await delay(500)
      let snapBefore: HeapSummary | undefined
      if (o.heapSnapshots) {
        snapBefore = summarizeHeap(await inspector.heapSnapshot(), RETAINED)
        await inspector.collectGarbage()
      }
      const before = { rss: await sampleRss(pid), v8: await inspector.memoryUsage() }

      if (o.connectProfileDir) await inspector.startProfile()
      const cpuBefore = cpuMs(pid)
      const fleet = await openFleet({
        ...fleetBase,
        name: `${kind}-load`,
        sockets: o.sockets,
        userPrefix: `bm${run}-`,
      })
      const connectCpuMs = cpuMs(pid) - cpuBefore
      if (o.connectProfileDir) {
        mkdirSync(o.connectProfileDir, { recursive: true })
        writeFileSync(
          join(o.connectProfileDir, `${kind}-${roundNo}.cpuprofile`),
          await inspector.stopProfile(),
        )
      }
      try {
        const serverCounts = await server.counts()
        const quiet = await waitQuiet(pid, { timeoutMs: 60_000 })
        const settled = await sampleRss(pid)
        await delay((o.idleSeconds ?? 20) * 1000)
        const idle = await sampleRss(pid)
        await inspector.ordinaryGc()
        await delay(500)
        const afterOrdinaryGc = await sampleRss(pid)
        await inspector.collectGarbage()
        await delay(500)
        const after = { rss: await sampleRss(pid), v8: await inspector.memoryUsage() }
        const peak = peakRssKiB(pid)
        let heap: ServerMemory['heap']
        if (snapBefore) {
          const snapAfter = summarizeHeap(await inspector.heapSnapshot(), RETAINED)
          heap = {
            perSocket: diffHeaps(snapBefore, snapAfter, fleet.opened),
            retainers: topRetainers(snapAfter),
          }
        }
        const n = fleet.opened
        const result: ServerMemory = {
          kind,
          label: SERVER_LABELS[kind],
          round: roundNo,
          sockets: n,
          failed: fleet.failed,
          retries: fleet.retries,
          connectSeconds: round(fleet.ms / 1000, 2),
          cpuPerConnectUs: Math.round((connectCpuMs * 1000) / n),
          serverCounts,
          quiet,
          rssKiB: { before: before.rss, settled, idle, afterOrdinaryGc, afterGc: after.rss, peak },
          v8: { before: before.v8, after: after.v8 },
          perSocket: {
            rssKiB: round((after.rss - before.rss) / n, 2),
            rssOrdinaryGcKiB: round((afterOrdinaryGc - before.rss) / n, 2),
            rssSettledKiB: round((settled - before.rss) / n, 2),
            rssIdleKiB: round((idle - before.rss) / n, 2),
            heapUsedBytes: Math.round((after.v8.heapUsed - before.v8.heapUsed) / n),
            externalBytes: Math.round((after.v8.external - before.v8.external) / n),
          },
        }
        if (heap) result.heap = heap
        if (fleet.failed > 0) {
          process.stderr.write(`memory/${kind}: ${fleet.failed} sockets failed: ${fleet.errors.join('; ')}\n`)
        }
        return result
      } finally {
        await fleet.close()
      }
    } finally {
      await inspector.close()
    }
  } finally {
    const exit = await server.proc.stop()
    if (exit.signal === 'SIGKILL') process.stderr.write(`memory/${kind}: server needed SIGKILL\n`)
  }
}

async function waitForCount(server: Awaited<ReturnType<typeof startServer>>, sockets: number): Promise<void> {
  const deadline = Date.now() + 20_000
  for (;;) {
    const c = await server.counts()
    if (c.sockets === sockets) return
    if (Date.now() > deadline)
      throw new Error(`${server.kind}: ${c.sockets} sockets left, expected ${sockets}`)
    await delay(100)
  }
}

export async function runMemory(o: MemoryOptions): Promise<ServerMemory[]> {
  const out: ServerMemory[] = []
  const rounds = o.rounds ?? 1
  for (let roundNo = 1; roundNo <= rounds; roundNo++) {
    for (const kind of o.servers) {
      process.stderr.write(`memory: ${kind}, ${o.sockets} sockets (round ${roundNo}/${rounds})…\n`)
      const r = await measureServer(kind, o, roundNo)
      process.stderr.write(
        `memory: ${kind}: ${r.perSocket.rssIdleKiB} KiB/socket RSS in a quiet pod, ${r.perSocket.rssOrdinaryGcKiB} after an ordinary GC, ${r.perSocket.rssKiB} after a last-resort GC (${r.sockets} sockets, ${r.connectSeconds} s to connect, ${r.cpuPerConnectUs} µs CPU per connect)\n`,
      )
      out.push(r)
    }
  }
  return out
}
