// A file-per-process registry of every server the launcher started, so that whoever comes next (the
// owner's watchdog, the next launcher, `cli.ts down`) can stop what a dead owner left behind.
import { randomBytes } from 'node:crypto'
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { hostname } from 'node:os'
import { join } from 'node:path'
import { registryDir } from './paths.ts'
import { isRunning, type ProcIdentity } from './procfs.ts'

export interface Entry {
  /** Basename of the server's temp dir; also the registry file name. */
  id: string
  kind: 'redis' | 'kafka' | 'jaeger'
  /** 0 until the process is spawned (the entry is written first so a crash in between leaks no temp dir). */
  pid: number
  startTime: number
  /** A substring /proc/<pid>/cmdline must contain before we signal the pid. */
  marker: string
  dir: string
  /** host:port clients use, for humans reading `cli.ts down`. */
  address: string
  owner: ProcIdentity
  /** Persistent servers (`cli.ts up`) outlive their owner and are only stopped by `cli.ts down`. */
  persistent: boolean
  /**
   * The env file `cli.ts up` wrote for a persistent server: `cli.ts down` with the same file stops it,
   * so one checkout's `down` leaves another checkout's (a git worktree's) servers alone.
   */
  envFile?: string
  /** Registries may sit on a shared home directory: only ever touch entries of this host. */
  host: string
  createdAt: string
}

export function newEntry(kind: Entry['kind'], dir: string, id: string, owner: ProcIdentity): Entry {
  return {
    id,
    kind,
    pid: 0,
    startTime: 0,
    marker: '',
    dir,
    address: '',
    owner,
    persistent: false,
    host: hostname(),
    createdAt: new Date().toISOString(),
  }
}

/** Atomic (write + rename) so a reader never sees half an entry. */
export function writeEntry(entry: Entry): void {
  const dir = registryDir()
  mkdirSync(dir, { recursive: true })
  const tmp = join(dir, `.${entry.id}.${randomBytes(4).toString('hex')}.tmp`)
  writeFileSync(tmp, `${JSON.stringify(entry, null, 2)}\n`)
  renameSync(tmp, join(dir, `${entry.id}.json`))
}

export function removeEntry(entry: Entry): void {
  rmSync(join(registryDir(), `${entry.id}.json`), { force: true })
}

export function listEntries(): Entry[] {
  let names: string[]
  try {
    names = readdirSync(registryDir())
  } catch {
    return []
  }
  const entries: Entry[] = []
  for (const name of names) {
    if (!name.endsWith('.json')) continue
    try {
      const entry = JSON.parse(readFileSync(join(registryDir(), name), 'utf8')) as Entry
      if (entry.host === hostname()) entries.push(entry)
    } catch {
      // removed concurrently, or not ours: skip
    }
  }
  return entries
}

/** Owner gone and not persistent: nobody will stop this server unless we do. */
export function isStale(entry: Entry): boolean {
  return !entry.persistent && !isRunning(entry.owner)
}
