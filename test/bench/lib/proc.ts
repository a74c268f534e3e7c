// Child processes of the benches (servers under test, load generators) and what /proc says about them.
//
// No process outlives the bench:
// - stop() in each bench's `finally`;
// - a synchronous SIGKILL of every live child on this process's `exit` and on SIGINT/SIGTERM;
// - support/parent-guard.ts, preloaded into each child, for when this process dies without running any code.
import { type ChildProcess, spawn } from 'node:child_process'
import { createWriteStream, existsSync, readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { setTimeout as delay } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'

export const repoRoot = fileURLToPath(new URL('../../../', import.meta.url))
const guard = fileURLToPath(new URL('../../support/parent-guard.ts', import.meta.url))

export interface ExitInfo {
  code: number | null
  signal: NodeJS.Signals | null
}

export interface NodeProcessSpec {
  /** Names the process in messages and its log file. */
  name: string
  /** Absolute path of the .ts entry point. */
  script: string
  /**
   * A program that is not Node (Centrifugo): runs `command` + args instead of node + script, with the
   * same ulimit, environment marker and logs (no parent guard: the runner's /proc scan covers it).
   */
  command?: string
  args?: string[]
  /** Added to a minimal environment (PATH, HOME): nothing else leaks in from the caller. */
  env?: Record<string, string>
  /** Open-file limit (`ulimit -n`) of the child; fails if the hard limit is lower. */
  nofile?: number
  /** Start with `--inspect=127.0.0.1:0`, so the bench can force a GC / take a heap snapshot. */
  inspect?: boolean
  /** An IPC channel (load generators). */
  ipc?: boolean
  /** Extra node flags (before the script). */
  nodeArgs?: string[]
  logDir: string
}

export interface NodeProcess {
  readonly name: string
  readonly pid: number
  readonly child: ChildProcess
  readonly logFile: string
  /** The inspector's WebSocket URL, once printed (only with `inspect`). */
  inspectorUrl(): Promise<string>
  readonly exited: Promise<ExitInfo>
  readonly running: boolean
  /** SIGTERM, SIGKILL after graceMs; resolves when the process is gone. */
  stop(graceMs?: number): Promise<ExitInfo>
  tail(lines?: number): string
}

const live = new Set<ChildProcess>()
let hooked = false

function killAll(): void {
  for (const c of live) c.kill('SIGKILL')
  live.clear()
}

function installHooks(): void {
  if (hooked) return
  hooked = true
  process.on('exit', killAll)
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => {
      process.stderr.write(`\nbench: ${signal}, killing ${live.size} child process(es)\n`)
      killAll()
      process.exit(130)
    })
  }
}

/** Number of live children (the runner checks it is 0 at the end). */
export const liveChildren = (): number => live.size

/**
 * Pids of every process on the machine that a bench process started, directly or not (they all inherit
 * TIDINGS_BENCH_PARENT_PID=<this pid>), still running now. The runner checks it is empty at the end.
 */
export function leftoverProcesses(): number[] {
  const marker = `TIDINGS_BENCH_PARENT_PID=${process.pid}\0`
  const out: number[] = []
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8')
      if (stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z')) continue // exited, not yet reaped
      if (readFileSync(`/proc/${entry}/environ`, 'latin1').includes(marker)) out.push(Number(entry))
    } catch {
      // gone meanwhile, or not ours to read
    }
  }
  return out
}

export function spawnNode(spec: NodeProcessSpec): NodeProcess {
  installHooks()
  const logFile = join(spec.logDir, `${spec.name}.log`)
  const log = createWriteStream(logFile, { flags: 'a' })
  const nodeArgs = [
    '--import',
    guard,
    ...(spec.inspect ? ['--inspect=127.0.0.1:0'] : []),
    ...(spec.nodeArgs ?? []),
  ]
  const nofile = spec.nofile ?? 1024
  // `exec` keeps the pid: what we measure in /proc is node itself, not the shell.
  const script = 'ulimit -n "$BENCH_NOFILE" || exit 97; exec "$@"'
  const child = spawn(
    'bash',
    spec.command
      ? ['-c', script, 'bash', spec.command, ...(spec.args ?? [])]
      : ['-c', script, 'bash', process.execPath, ...nodeArgs, spec.script, ...(spec.args ?? [])],
    {
      cwd: repoRoot,
      env: {
        PATH: process.env.PATH ?? '/usr/bin:/bin',
        HOME: process.env.HOME ?? '/root',
        BENCH_NOFILE: String(nofile),
        TIDINGS_BENCH_PARENT_PID: String(process.pid),
        TIDINGS_PARENT_PID: String(process.pid),
        ...spec.env,
      },
      stdio: ['ignore', 'pipe', 'pipe', ...(spec.ipc ? (['ipc'] as const) : [])],
    },
  )
  if (child.pid === undefined) throw new Error(`cannot spawn ${spec.name}`)
  live.add(child)
  let inspector: string | undefined
  const inspectorWaiters = new Set<(url: string) => void>()
  let stderrBuf = ''
  child.stdout!.pipe(log, { end: false })
  child.stderr!.on('data', (chunk: Buffer) => {
    log.write(chunk)
    if (inspector || !spec.inspect) return
    stderrBuf += chunk.toString()
    const m = /Debugger listening on (ws:\/\/\S+)/.exec(stderrBuf)
    if (m) {
      inspector = m[1]!
      for (const w of inspectorWaiters) w(inspector)
    }
  })
  let running = true
  child.once('exit', () => {
    live.delete(child)
    running = false
  })
  // 'close' comes after 'exit' once stdout/stderr are drained; resolve when the log file is complete
  const exited = new Promise<ExitInfo>((resolve) => {
    child.once('close', (code, signal) => {
      live.delete(child)
      running = false
      log.end(() => resolve({ code, signal }))
    })
  })

  const tail = (lines = 30) =>
    existsSync(logFile) ? readFileSync(logFile, 'utf8').trimEnd().split('\n').slice(-lines).join('\n') : ''

  return {
    name: spec.name,
    pid: child.pid,
    child,
    logFile,
    exited,
    get running() {
      return running
    },
    inspectorUrl() {
      if (!spec.inspect) return Promise.reject(new Error(`${spec.name} was not started with inspect`))
      if (inspector) return Promise.resolve(inspector)
      return new Promise((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`${spec.name}: no inspector URL\n${tail()}`)), 15_000)
        inspectorWaiters.add((url) => {
          clearTimeout(t)
          resolve(url)
        })
        void exited.then(() => reject(new Error(`${spec.name} exited before its inspector\n${tail()}`)))
      })
    },
    async stop(graceMs = 15_000) {
      if (!running) return exited
      child.kill('SIGTERM')
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs)
      const info = await exited
      clearTimeout(timer)
      return info
    },
    tail,
  }
}

export { freePort } from '../../e2e/processes.ts'

/** Polls `GET url` until it answers 200; fails early if the process exits. */
export async function waitHttpOk(proc: NodeProcess, url: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    if (!proc.running) throw new Error(`${proc.name} exited during start:\n${proc.tail()}`)
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(2000) })
      await res.arrayBuffer()
      if (res.ok) return
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline)
      throw new Error(`${proc.name}: ${url} not ready after ${timeoutMs} ms\n${proc.tail()}`)
    await delay(100)
  }
}

function statusField(pid: number, field: string): number {
  const text = readFileSync(`/proc/${pid}/status`, 'utf8')
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(text)
  if (!m) throw new Error(`no ${field} in /proc/${pid}/status`)
  return Number(m[1])
}

/** Resident set size in KiB (VmRSS). */
export const rssKiB = (pid: number): number => statusField(pid, 'VmRSS')
/** Peak resident set size in KiB (VmHWM). */
export const peakRssKiB = (pid: number): number => statusField(pid, 'VmHWM')

const CLK_TCK = 100 // sysconf(_SC_CLK_TCK) on Linux (x86-64 and arm64)

/** User + system CPU time of the whole process (all threads), in ms; 10 ms resolution. */
export function cpuMs(pid: number): number {
  const text = readFileSync(`/proc/${pid}/stat`, 'utf8')
  const rest = text.slice(text.lastIndexOf(')') + 2).split(' ')
  // fields 14 and 15 of stat (utime, stime) are 11 and 12 after "pid (comm) "
  return ((Number(rest[11]) + Number(rest[12])) * 1000) / CLK_TCK
}

/**
 * The machine's CPU time so far (all cores, in clock ticks, from /proc/stat): `busy` is everything
 * but idle and iowait. Its share of `total` over a window is how busy the whole box was.
 */
export function machineCpu(): { busy: number; total: number } {
  const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!
  // cpu user nice system idle iowait irq softirq steal guest guest_nice (guest is inside user)
  const [user, nice, system, idle, iowait, irq, softirq, steal] = line
    .trim()
    .split(/\s+/)
    .slice(1)
    .map(Number)
  const busy = user! + nice! + system! + irq! + softirq! + steal!
  return { busy, total: busy + idle! + iowait! }
}

/** The hard open-file limit of this process: what a child's `ulimit -n` may be raised to. */
export function hardFileLimit(): number {
  const m = /^Max open files\s+\S+\s+(\d+|unlimited)/m.exec(readFileSync('/proc/self/limits', 'utf8'))
  return !m || m[1] === 'unlimited' ? 1_048_576 : Number(m[1])
}

/** Open-file limit for a process holding `sockets` connections (plus slack), within the hard limit. */
export function fileLimitFor(sockets: number): number {
  const hard = hardFileLimit()
  if (sockets + 200 > hard) {
    throw new Error(`${sockets} sockets do not fit under the hard open-file limit ${hard} (ulimit -Hn)`)
  }
  return Math.min(sockets + 2000, hard)
}

/** The soft open-file limit of a process. */
export function openFileLimit(pid: number): number {
  const m = /^Max open files\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/limits`, 'utf8'))
  return m ? Number(m[1]) : 0
}

/** Median of `count` RSS samples `intervalMs` apart (KiB). */
export async function sampleRss(pid: number, count = 5, intervalMs = 200): Promise<number> {
  const samples: number[] = []
  for (let i = 0; i < count; i++) {
    if (i > 0) await delay(intervalMs)
    samples.push(rssKiB(pid))
  }
  return median(samples)
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  const mid = s.length >> 1
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2
}

/**
 * Waits until the process is (nearly) idle: less than `maxPercent` of one core over `windowMs`,
 * bounded by `timeoutMs` (returns false then: the caller reports it).
 */
export async function waitQuiet(
  pid: number,
  { windowMs = 1000, maxPercent = 3, timeoutMs = 30_000 } = {},
): Promise<boolean> {
  const deadline = Date.now() + timeoutMs
  let before = cpuMs(pid)
  for (;;) {
    await delay(windowMs)
    const now = cpuMs(pid)
    if (((now - before) / windowMs) * 100 <= maxPercent) return true
    if (Date.now() > deadline) return false
    before = now
  }
}
