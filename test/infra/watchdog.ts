// Runs detached next to a launcher process (its "owner"): when the owner disappears without having stopped
// its servers (SIGKILL, crash, `process.exit` in a test), stop them and remove their temp dirs.
// Usage (spawned by owner.ts): node watchdog.ts <ownerPid> <ownerStartTime>
// The registry location comes from the inherited environment (TIDINGS_CACHE).
import { isRunning } from './procfs.ts'
import { reapOwner } from './reaper.ts'

const owner = { pid: Number(process.argv[2]), startTime: Number(process.argv[3]) }
let reaping = false

// The owner sends SIGTERM once it has stopped everything itself; never abandon a reap in progress.
process.on('SIGTERM', () => {
  if (!reaping) process.exit(0)
})
process.on('SIGINT', () => {}) // detached already; belt and braces against a stray terminal signal

const timer = setInterval(() => {
  if (isRunning(owner)) return
  clearInterval(timer)
  reaping = true
  reapOwner(owner).then(
    () => process.exit(0),
    (error: unknown) => {
      console.error('tidings watchdog:', error)
      process.exit(1)
    },
  )
}, 500)
