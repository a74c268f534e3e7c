// The launcher side of the watchdog: one watchdog per process that has non-persistent servers running,
// started before the first server and stopped when the last one is stopped or made persistent.
import { type ChildProcess, spawn } from 'node:child_process'
import { join } from 'node:path'
import { self } from './procfs.ts'

const held = new Set<string>()
let watchdog: ChildProcess | undefined

export function holdWatchdog(id: string): void {
  held.add(id)
  if (watchdog) return
  watchdog = spawn(
    process.execPath,
    [join(import.meta.dirname, 'watchdog.ts'), String(self.pid), String(self.startTime)],
    {
      detached: true, // its own session: a Ctrl-C aimed at us must not take it down
      stdio: 'ignore',
    },
  )
  watchdog.unref()
}

export function releaseWatchdog(id: string): void {
  if (!held.delete(id) || held.size > 0 || !watchdog) return
  watchdog.kill('SIGTERM')
  watchdog = undefined
}
