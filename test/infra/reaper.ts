// Stops servers recorded in the registry: used by stop(), the watchdog, every launcher start and `cli.ts down`.
import { rmSync } from 'node:fs'
import { terminate } from './process.ts'
import type { ProcIdentity } from './procfs.ts'
import { type Entry, isStale, listEntries, removeEntry } from './registry.ts'

/** Kafka needs a moment for a clean shutdown; Redis (no persistence) exits at once. */
const graceMs: Record<Entry['kind'], number> = { kafka: 10_000, redis: 5000, jaeger: 5000 }

/** Stops the process (if it is still the one we started), removes its temp dir and its registry entry. */
export async function stopEntry(entry: Entry): Promise<boolean> {
  const stopped = entry.pid > 0 && (await terminate(entry, entry.marker, graceMs[entry.kind]))
  rmSync(entry.dir, { recursive: true, force: true })
  removeEntry(entry)
  return stopped
}

async function stopAll(entries: Entry[]): Promise<Entry[]> {
  await Promise.all(entries.map(stopEntry))
  return entries
}

/** Entries whose owner died without stopping them (SIGKILL, crash) and that are not persistent. */
export function reapStale(): Promise<Entry[]> {
  return stopAll(listEntries().filter(isStale))
}

/** Everything a (dead) owner started, except what it made persistent. Used by its watchdog. */
export function reapOwner(owner: ProcIdentity): Promise<Entry[]> {
  return stopAll(
    listEntries().filter(
      (e) => !e.persistent && e.owner.pid === owner.pid && e.owner.startTime === owner.startTime,
    ),
  )
}

/**
 * For `cli.ts down`: the persistent servers `cli.ts up` started for `envFile` (and those of older
 * registries that recorded none), plus stale ones. Servers of live test runs, and persistent servers
 * of other env files (another checkout's), are left alone.
 */
export function reapPersistentAndStale(envFile: string): Promise<Entry[]> {
  const ours = (e: Entry) => e.persistent && (e.envFile === undefined || e.envFile === envFile)
  return stopAll(listEntries().filter((e) => ours(e) || isStale(e)))
}
