// Life cycle shared by every server we start: temp dir + registry entry + watchdog first, then the
// detached process, a readiness probe that fails fast when the process dies, and a stop that leaves nothing.
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { basename, join } from 'node:path'
import { setTimeout as delay } from 'node:timers/promises'
import { holdWatchdog, releaseWatchdog } from './owner.ts'
import { logTail, spawnDetached } from './process.ts'
import { isRunning, self } from './procfs.ts'
import { stopEntry } from './reaper.ts'
import { type Entry, newEntry, writeEntry } from './registry.ts'

export interface Server {
  entry: Entry
  /** stdout+stderr of the process; more log files may be added by the caller (Kafka's log4j file). */
  logFiles: string[]
}

/** Creates the temp dir and registers it before anything runs, so a crash from here on leaks nothing. */
export function prepareServer(kind: Entry['kind'], address: string): Server {
  const dir = mkdtempSync(join(tmpdir(), `tidings-infra-${kind}-`))
  const entry = newEntry(kind, dir, basename(dir), self)
  entry.address = address
  holdWatchdog(entry.id)
  writeEntry(entry)
  return { entry, logFiles: [join(dir, 'stdout.log')] }
}

/** Spawns the server process detached and records its identity. */
export async function launch(server: Server, command: string, args: string[], marker: string): Promise<void> {
  const proc = await spawnDetached(command, args, { cwd: server.entry.dir, logFile: server.logFiles[0]! })
  Object.assign(server.entry, proc, { marker })
  writeEntry(server.entry)
}

/** Polls probe until it returns true; throws at once (with the log tail) if the process exits meanwhile. */
export async function waitUntilReady(
  server: Server,
  what: string,
  probe: () => Promise<boolean>,
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs
  let lastError: unknown
  for (;;) {
    if (!isRunning(server.entry)) throw new Error(`${what} exited during start-up`)
    try {
      if (await probe()) return
    } catch (error) {
      lastError = error
    }
    if (Date.now() >= deadline) {
      const reason = lastError instanceof Error ? `: ${lastError.message}` : ''
      throw new Error(`${what} not ready after ${timeoutMs} ms${reason}`)
    }
    await delay(50)
  }
}

export async function stopServer(server: Server): Promise<void> {
  try {
    await stopEntry(server.entry)
  } finally {
    releaseWatchdog(server.entry.id)
  }
}

/** Cleans up after a failed start and rethrows with the server's log tail (read before the dir goes). */
export async function failStart(server: Server, error: unknown): Promise<never> {
  const tail = logTail(server.logFiles)
  await stopServer(server)
  const message = error instanceof Error ? error.message : String(error)
  throw new Error(`${message}\n${tail}`, { cause: error })
}

/** From now on the server outlives this process (`cli.ts up`); only `cli.ts down` with `envFile` stops it. */
export function persist(server: Server, envFile: string): void {
  server.entry.persistent = true
  server.entry.envFile = envFile
  writeEntry(server.entry)
  releaseWatchdog(server.entry.id)
}

/** Makes stop() idempotent and safe to call concurrently. */
export function once(fn: () => Promise<void>): () => Promise<void> {
  let result: Promise<void> | undefined
  return () => {
    result ??= fn()
    return result
  }
}
