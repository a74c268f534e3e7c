// Real service processes for end-to-end tests and the local stack: `node services/<x>/src/main.ts`
// with an explicit environment, output in a log file, readiness via HTTP, stop/kill/restart.
//
// Children never outlive their parent:
// - stop()/kill() in the tests' `after` hooks (the stack's stop());
// - a synchronous SIGKILL of every live child on this process's `exit` (uncaught error, process.exit);
// - support/parent-guard.ts, preloaded into each child, for when this process dies without running any code
//   (SIGKILL, OOM): the orphaned child sees its parent pid change and stops itself within ~0.2 s
//   (SIGTERM, then SIGKILL after 5 s). Limit: a child wedged so hard that its event loop never runs
//   (and ignores SIGTERM) only goes with that SIGKILL, and one that blocks SIGKILL cannot exist.
import { type ChildProcess, spawn } from 'node:child_process'
import { appendFileSync, closeSync, existsSync, openSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { setTimeout as delay } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'
import { freePorts } from '../infra/ports.ts'

export const repoRoot = fileURLToPath(new URL('../../', import.meta.url))
export const gatewayEntry = join(repoRoot, 'services/gateway/src/main.ts')
export const dispatcherEntry = join(repoRoot, 'services/dispatcher/src/main.ts')
const guard = fileURLToPath(new URL('../support/parent-guard.ts', import.meta.url))
// What the Dockerfile runs too: OpenTelemetry, started only when the child's env has OTEL_TRACES_EXPORTER=otlp.
const otel = join(repoRoot, 'packages/runtime/src/otel.ts')

export interface ExitInfo {
  code: number | null
  signal: NodeJS.Signals | null
}

export interface ProcessSpec {
  /** Names the process in messages and log prefixes, e.g. `gateway-1`. */
  name: string
  /** Absolute path of the .ts entry point. */
  entry: string
  /** The whole environment of the child besides PATH/HOME: nothing leaks in from the caller's shell. */
  env: Record<string, string>
  /** Directory for `<name>.log` (stdout + stderr of every run, appended). */
  logDir: string
  /**
   * The environment variable holding the HTTP port (health/readiness). Unset in `env` → a free port
   * is picked on the first start (and a new one if the bind races with another process); restarts
   * keep it, so clients reconnect to the same address.
   */
  portEnv: string
  /** Default `/readyz`. */
  readyPath?: string
  /** Default 30 s. */
  readyTimeoutMs?: number
  /** Also receive every output line (the local stack prints them); the log file is written anyway. */
  onLine?: (line: string) => void
  /**
   * Replaces the default report of an unexpected exit (a message with the log tail on stderr).
   * Called for every exit, with `expected` false when nobody asked the process to stop.
   */
  onExit?: (info: ExitInfo, expected: boolean) => void
  /**
   * Own session and process group (default false). The local stack uses it so that a terminal
   * Ctrl-C reaches only the stack, which then stops the services in order; a service that got the
   * terminal's SIGINT and then our SIGTERM would take the second signal as "exit now".
   */
  detached?: boolean
  /** Extra `node` flags before the entry point. */
  nodeOptions?: string[]
}

export interface ServiceProcess {
  readonly name: string
  readonly logFile: string
  /** Set once started; stays the same across restarts. */
  readonly port: number
  /** `http://127.0.0.1:<port>` */
  readonly baseUrl: string
  readonly pid: number | undefined
  readonly running: boolean
  /** Spawns the process and resolves once `GET readyPath` answers 200; rejects with the log tail. */
  start(): Promise<void>
  /** SIGTERM (the service's graceful stop) and resolves on exit; SIGKILL after `timeoutMs` (30 s). */
  stop(timeoutMs?: number): Promise<ExitInfo>
  /** SIGKILL, resolves on exit. */
  kill(): Promise<ExitInfo>
  /** stop() if running, then start() with the same environment and port. */
  restart(): Promise<void>
  /** Sends a signal without waiting (the caller may want to observe the process while it stops). */
  signal(signal: NodeJS.Signals): void
  /** Resolves when the current run exits. */
  exited(): Promise<ExitInfo>
  /** The last lines of the log file. */
  tail(lines?: number): string
  /** The JSON (pino) lines of the log so far. */
  logLines(): Record<string, unknown>[]
}

const live = new Set<ChildProcess>()
let exitHookInstalled = false

function installExitHook(): void {
  if (exitHookInstalled) return
  exitHookInstalled = true
  // 'exit' handlers must be synchronous: a signal is all we can do, and it is enough.
  process.on('exit', () => {
    for (const child of live) child.kill('SIGKILL')
  })
}

/** A TCP port that was free a moment ago (the kernel's choice for port 0). */
/** The status of `GET url` (the body read and dropped, so the connection is reused). */
export async function httpStatus(url: string): Promise<number> {
  const res = await fetch(url)
  await res.arrayBuffer()
  return res.status
}

export async function freePort(): Promise<number> {
  const [port] = await freePorts(1)
  return port!
}

function readTail(file: string, lines: number): string {
  if (!existsSync(file)) return '(no log)'
  return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n')
}

export function serviceProcess(spec: ProcessSpec): ServiceProcess {
  installExitHook()
  const logFile = join(spec.logDir, `${spec.name}.log`)
  const readyPath = spec.readyPath ?? '/readyz'
  const readyTimeoutMs = spec.readyTimeoutMs ?? 30_000
  let port = spec.env[spec.portEnv] ? Number(spec.env[spec.portEnv]) : 0
  const fixedPort = port !== 0
  let child: ChildProcess | undefined
  let exit: Promise<ExitInfo> = Promise.resolve({ code: null, signal: null })
  let expectingExit = false
  let runs = 0
  let starting = false
  const detached = spec.detached ?? false

  function spawnChild(): void {
    runs += 1
    appendFileSync(logFile, `--- ${spec.name} run ${runs} at ${new Date().toISOString()} (port ${port})\n`)
    const env: Record<string, string> = {
      PATH: process.env.PATH ?? '',
      ...(process.env.HOME ? { HOME: process.env.HOME } : {}),
      ...spec.env,
      [spec.portEnv]: String(port),
      TIDINGS_PARENT_PID: String(process.pid),
    }
    const args = [...(spec.nodeOptions ?? []), '--import', guard, '--import', otel, spec.entry]
    let c: ChildProcess
    if (spec.onLine) {
      c = spawn(process.execPath, args, { cwd: repoRoot, env, stdio: ['ignore', 'pipe', 'pipe'], detached })
      const onLine = spec.onLine
      for (const stream of [c.stdout!, c.stderr!]) {
        let partial = ''
        stream.setEncoding('utf8') // a multi-byte character split across chunks stays whole
        stream.on('data', (chunk: string) => {
          appendFileSync(logFile, chunk)
          const parts = (partial + chunk).split('\n')
          partial = parts.pop() ?? ''
          for (const line of parts) if (line !== '') onLine(line)
        })
        stream.on('end', () => {
          if (partial !== '') onLine(partial)
          partial = ''
        })
      }
    } else {
      // The child writes straight into the file: nothing is lost if this process dies first.
      const fd = openSync(logFile, 'a')
      try {
        c = spawn(process.execPath, args, { cwd: repoRoot, env, stdio: ['ignore', fd, fd], detached })
      } finally {
        closeSync(fd)
      }
    }
    child = c
    live.add(c)
    expectingExit = false
    exit = new Promise((resolve) => {
      c.once('exit', (code, signal) => {
        live.delete(c)
        // an exit during start() is reported by start() itself, with the log tail
        const expected = expectingExit || starting
        if (spec.onExit) spec.onExit({ code, signal }, expected)
        else if (!expected) {
          process.stderr.write(
            `\n[e2e] ${spec.name} (pid ${c.pid}) exited unexpectedly: code ${code}, signal ${signal}\n` +
              `${readTail(logFile, 40)}\n`,
          )
        }
        resolve({ code, signal })
      })
    })
    c.once('error', (error) => appendFileSync(logFile, `spawn error: ${error.message}\n`))
  }

  /** The log of the latest run only (the file keeps every run). */
  function currentRun(): string {
    const text = existsSync(logFile) ? readFileSync(logFile, 'utf8') : ''
    return text.slice(text.lastIndexOf(`--- ${spec.name} run `))
  }

  async function waitReady(): Promise<void> {
    const deadline = Date.now() + readyTimeoutMs
    const c = child!
    let last = 'no answer yet'
    for (;;) {
      if (c.exitCode !== null || c.signalCode !== null) {
        throw new Error(`${spec.name} exited during start-up (code ${c.exitCode}, signal ${c.signalCode})`)
      }
      try {
        const res = await fetch(`http://127.0.0.1:${port}${readyPath}`, { signal: AbortSignal.timeout(2000) })
        await res.arrayBuffer()
        if (res.status === 200) return
        last = `HTTP ${res.status}`
      } catch (error) {
        last = (error as Error).message
      }
      if (Date.now() >= deadline)
        throw new Error(`${spec.name} not ready after ${readyTimeoutMs} ms (${last})`)
      await delay(50)
    }
  }

  async function start(): Promise<void> {
    if (child && child.exitCode === null && child.signalCode === null) {
      throw new Error(`${spec.name} is already running`)
    }
    starting = true
    try {
      await startAttempts()
    } finally {
      starting = false
    }
  }

  async function startAttempts(): Promise<void> {
    // a bind race with another process (the port was free when chosen) gets a fresh port, once or twice
    for (let attempt = 1; ; attempt++) {
      if (port === 0) port = await freePort()
      spawnChild()
      try {
        await waitReady()
        return
      } catch (error) {
        expectingExit = true
        if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
        await exit
        const tail = readTail(logFile, 40)
        const bindRace = !fixedPort && /EADDRINUSE/.test(currentRun())
        if (bindRace && attempt < 3) {
          port = 0
          continue
        }
        throw new Error(`${(error as Error).message}\n--- ${logFile} (last 40 lines)\n${tail}`, {
          cause: error,
        })
      }
    }
  }

  function running(): boolean {
    return child !== undefined && child.exitCode === null && child.signalCode === null
  }

  async function stop(timeoutMs = 30_000): Promise<ExitInfo> {
    if (!running()) return exit
    expectingExit = true
    child!.kill('SIGTERM')
    const timer = setTimeout(() => child?.kill('SIGKILL'), timeoutMs)
    try {
      return await exit
    } finally {
      clearTimeout(timer)
    }
  }

  async function kill(): Promise<ExitInfo> {
    if (!running()) return exit
    expectingExit = true
    child!.kill('SIGKILL')
    return exit
  }

  return {
    name: spec.name,
    logFile,
    get port() {
      return port
    },
    get baseUrl() {
      return `http://127.0.0.1:${port}`
    },
    get pid() {
      return child?.pid
    },
    get running() {
      return running()
    },
    start,
    stop,
    kill,
    async restart() {
      await stop()
      await start()
    },
    signal(signal) {
      if (!running()) return
      if (signal === 'SIGTERM' || signal === 'SIGKILL' || signal === 'SIGINT') expectingExit = true
      child!.kill(signal)
    },
    exited: () => exit,
    tail: (lines = 40) => readTail(logFile, lines),
    logLines() {
      if (!existsSync(logFile)) return []
      const out: Record<string, unknown>[] = []
      for (const line of readFileSync(logFile, 'utf8').split('\n')) {
        if (!line.startsWith('{')) continue
        try {
          out.push(JSON.parse(line) as Record<string, unknown>)
        } catch {
          // a partial last line
        }
      }
      return out
    },
  }
}
