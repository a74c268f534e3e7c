// Process identity from /proc (Linux only). A pid alone is not an identity: pids are recycled
// (pid_max is 32768 here), so every process we record is (pid, start time in clock ticks since boot).
import { readFileSync } from 'node:fs'

export interface ProcIdentity {
  pid: number
  startTime: number
}

interface ProcStat {
  state: string
  startTime: number
}

function procStat(pid: number): ProcStat | undefined {
  let text: string
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8')
  } catch {
    return undefined
  }
  // Field 2 (comm) is in parentheses and may itself contain spaces or ')': split after the last ')'.
  const rest = text.slice(text.lastIndexOf(')') + 2).split(' ')
  return { state: rest[0] ?? '?', startTime: Number(rest[19]) }
}

/** The identity of a live process, or undefined when it does not exist. */
export function identityOf(pid: number): ProcIdentity | undefined {
  const stat = procStat(pid)
  return stat ? { pid, startTime: stat.startTime } : undefined
}

/** True while the process exists and has not exited. A zombie (exited, not yet reaped by its parent) is not running. */
export function isRunning(proc: ProcIdentity): boolean {
  if (!Number.isInteger(proc.pid) || proc.pid <= 0) return false
  const stat = procStat(proc.pid)
  if (!stat || stat.state === 'Z' || stat.state === 'X') return false
  return stat.startTime === proc.startTime
}

/** The command line, arguments joined by spaces ('' for zombies and vanished processes). */
export function cmdline(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim()
  } catch {
    return ''
  }
}

/** This process's identity, recorded as the owner of everything it starts. */
export const self: ProcIdentity = identityOf(process.pid) ?? { pid: process.pid, startTime: 0 }
