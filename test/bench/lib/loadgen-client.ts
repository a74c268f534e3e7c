// The bench side of the load generators: spawns loadgen.ts processes (each holds at most
// `perProcess` sockets, under its open-file limit) and drives them over IPC.
import { fileURLToPath } from 'node:url'
import { fileLimitFor, type NodeProcess, spawnNode } from './proc.ts'
import type { LoadgenRequest, OpenRequest, OpenResult, Stats } from './protocol.ts'

const loadgenScript = fileURLToPath(new URL('../loadgen.ts', import.meta.url))

// One block of 127.0.0.0/8 per bench run (sockets of an earlier run may still be in TIME_WAIT on
// theirs), one fresh address per `perAddress` sockets: ~28k ephemeral ports per address here.
const block = 20 + Math.floor(Math.random() * 200)
let nextAddress = 0

export function takeAddresses(sockets: number, perAddress: number): string[] {
  const out: string[] = []
  for (let i = 0; i < Math.ceil(sockets / perAddress); i++) {
    const k = nextAddress++
    out.push(`127.${block}.${Math.floor(k / 250) % 256}.${(k % 250) + 1}`)
  }
  return out
}

interface Loadgen {
  proc: NodeProcess
  request<T>(msg: LoadgenRequest, reply: string, timeoutMs: number): Promise<T>
}

async function startLoadgen(name: string, logDir: string, nofile: number): Promise<Loadgen> {
  const proc = spawnNode({ name, script: loadgenScript, ipc: true, nofile, logDir })
  const waiters = new Map<string, (m: Record<string, unknown>) => void>()
  proc.child.on('message', (m: Record<string, unknown>) => {
    const w = waiters.get(m.op as string)
    if (w) {
      waiters.delete(m.op as string)
      w(m)
    }
  })
  const wait = <T>(op: string, timeoutMs: number) =>
    new Promise<T>((resolve, reject) => {
      const t = setTimeout(
        () => reject(new Error(`${name}: no '${op}' after ${timeoutMs} ms\n${proc.tail()}`)),
        timeoutMs,
      )
      void proc.exited.then(() => {
        clearTimeout(t)
        reject(new Error(`${name} exited while waiting for '${op}'\n${proc.tail()}`))
      })
      waiters.set(op, (m) => {
        clearTimeout(t)
        resolve(m as T)
      })
    })
  await wait('ready', 30_000)
  return {
    proc,
    request<T>(msg: LoadgenRequest, reply: string, timeoutMs: number) {
      const p = wait<T>(reply, timeoutMs)
      proc.child.send(msg)
      return p
    },
  }
}

export interface FleetOptions {
  name: string
  url: string
  sockets: number
  userPrefix: string
  /** First user index (default 0). */
  from?: number
  secret: string
  logDir: string
  track?: boolean
  protocol?: OpenRequest['protocol']
  fallbackUrls?: string[]
  /** Default 12 000 sockets per load generator process. */
  perProcess?: number
  /** Default 4 000 sockets per source address. */
  perAddress?: number
  /** Handshakes in flight, per process. Default 128. */
  concurrency?: number
}

export interface Fleet {
  opened: number
  failed: number
  retries: number
  errors: string[]
  /** Wall time until every socket was open (or had failed). */
  ms: number
  /** The load generator processes (for their CPU time). */
  pids: number[]
  stats(latencies?: boolean): Promise<Stats>
  /** Closes every socket, waits for the processes to exit. */
  close(): Promise<void>
}

/** Opens `sockets` WebSockets (one user each) from as many load generator processes as needed. */
export async function openFleet(o: FleetOptions): Promise<Fleet> {
  const perProcess = o.perProcess ?? 12_000
  const perAddress = o.perAddress ?? 4000
  const procs = Math.max(1, Math.ceil(o.sockets / perProcess))
  const gens: Loadgen[] = []
  try {
    for (let i = 0; i < procs; i++) {
      gens.push(await startLoadgen(`${o.name}-${i}`, o.logDir, fileLimitFor(perProcess)))
    }
  } catch (err) {
    await Promise.all(gens.map((g) => g.proc.stop(2000)))
    throw err
  }
  const share = Math.ceil(o.sockets / procs)
  const t0 = performance.now()
  const results = await Promise.all(
    gens.map(async (g, i) => {
      const from = (o.from ?? 0) + i * share
      const count = Math.min(share, o.sockets - i * share)
      const req: OpenRequest = {
        url: o.url,
        userPrefix: o.userPrefix,
        from,
        count,
        secret: o.secret,
        addresses: takeAddresses(count, perAddress),
        perAddress,
        concurrency: o.concurrency ?? 128,
        track: o.track ?? false,
        protocol: o.protocol ?? 'tidings',
        fallbackUrls: o.fallbackUrls,
      }
      return g.request<OpenResult>({ op: 'open', req }, 'opened', 600_000)
    }),
  ).catch(async (err: unknown) => {
    await Promise.all(gens.map((g) => g.proc.stop(2000)))
    throw err
  })
  const ms = Math.round(performance.now() - t0)
  return {
    opened: results.reduce((s, r) => s + r.opened, 0),
    failed: results.reduce((s, r) => s + r.failed, 0),
    retries: results.reduce((s, r) => s + r.retries, 0),
    errors: results.flatMap((r) => r.errors).slice(0, 5),
    ms,
    pids: gens.map((g) => g.proc.pid),
    async stats(latencies = false) {
      const all = await Promise.all(
        gens.map((g) => g.request<Stats>({ op: 'stats', latencies }, 'stats', 30_000)),
      )
      const frames: Record<string, number> = {}
      for (const s of all) for (const [k, v] of Object.entries(s.frames)) frames[k] = (frames[k] ?? 0) + v
      const out: Stats = {
        open: all.reduce((s, x) => s + x.open, 0),
        unexpectedCloses: all.reduce((s, x) => s + x.unexpectedCloses, 0),
        frames,
        notifications: all.reduce((s, x) => s + x.notifications, 0),
        outOfOrder: all.reduce((s, x) => s + x.outOfOrder, 0),
        sdkOpen: all.reduce((s, x) => s + (x.sdkOpen ?? 0), 0),
        sdkDistinct: all.reduce((s, x) => s + (x.sdkDistinct ?? 0), 0),
      }
      if (latencies) {
        out.latenciesMs = all.flatMap((x) => x.latenciesMs ?? [])
        out.sentMs = all.flatMap((x) => x.sentMs ?? [])
      }
      return out
    },
    async close() {
      await Promise.all(
        gens.map(async (g) => {
          if (g.proc.running) await g.request({ op: 'close' }, 'closed', 60_000).catch(() => undefined)
          await g.proc.stop(5000)
        }),
      )
    },
  }
}
