// Spawning and stopping server processes. Servers run detached (own session and process group) so a
// Ctrl-C in the terminal reaches our cleanup code instead of killing the servers mid-flight.
import { spawn } from 'node:child_process'
import { closeSync, existsSync, openSync, readFileSync } from 'node:fs'
import { setTimeout as delay } from 'node:timers/promises'
import { cmdline, identityOf, isRunning, type ProcIdentity } from './procfs.ts'

/** Starts `command` detached with stdout+stderr appended to logFile; resolves once exec succeeded. */
export async function spawnDetached(
  command: string,
  args: string[],
  opts: { cwd: string; logFile: string },
): Promise<ProcIdentity> {
  const fd = openSync(opts.logFile, 'a')
  try {
    const child = spawn(command, args, { cwd: opts.cwd, detached: true, stdio: ['ignore', fd, fd] })
    // Do not keep the owner's event loop alive: if it exits without stop(), the watchdog cleans up.
    child.unref()
    if (child.pid === undefined) {
      const error = await new Promise<Error>((resolve) => child.once('error', resolve))
      throw new Error(`cannot start ${command}: ${error.message}`)
    }
    const id = identityOf(child.pid)
    if (!id) throw new Error(`${command} exited immediately, see ${opts.logFile}`)
    return id
  } finally {
    closeSync(fd)
  }
}

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal) // the whole group: a server could have children of its own
  } catch {
    try {
      process.kill(pid, signal)
    } catch {
      // already gone
    }
  }
}

async function waitGone(proc: ProcIdentity, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs
  while (isRunning(proc)) {
    if (Date.now() >= deadline) return false
    await delay(25)
  }
  return true
}

/**
 * SIGTERM the process group, SIGKILL it after graceMs. Does nothing unless the pid is still the process
 * we started (same start time, cmdline containing marker): a recycled pid must never be signalled.
 * Returns whether a process was stopped.
 */
export async function terminate(proc: ProcIdentity, marker: string, graceMs: number): Promise<boolean> {
  if (!isRunning(proc) || !cmdline(proc.pid).includes(marker)) return false
  signalGroup(proc.pid, 'SIGTERM')
  if (await waitGone(proc, graceMs)) return true
  signalGroup(proc.pid, 'SIGKILL')
  if (await waitGone(proc, 5000)) return true
  throw new Error(`process ${proc.pid} survived SIGKILL`)
}

/** The last lines of some log files, for start-failure messages. */
export function logTail(files: string[], lines = 30): string {
  return files
    .filter((file) => existsSync(file))
    .map((file) => {
      const text = readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n')
      return `--- ${file} (last ${lines} lines)\n${text}`
    })
    .join('\n')
}
