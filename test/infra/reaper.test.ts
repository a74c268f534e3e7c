// `cli.ts down` stops the persistent servers of its own env file only: a second checkout (a git
// worktree with its own .tidings/infra.env) keeps its servers when the first one runs `down`.
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { identity } from './fixtures/util.ts'
import { identityOf, isRunning, self } from './procfs.ts'
import { reapPersistentAndStale } from './reaper.ts'
import { type Entry, listEntries, newEntry, writeEntry } from './registry.ts'

/** A long sleep standing in for a server `cli.ts up` left running for `envFile`. */
function fakePersistentServer(name: string, envFile: string | undefined, root: string): Entry {
  const child = spawn('sleep', ['600'], { detached: true, stdio: 'ignore' })
  child.unref()
  const id = identityOf(child.pid!)
  assert.ok(id, 'sleep started')
  const dir = join(root, name)
  mkdirSync(dir)
  const entry = newEntry('redis', dir, name, self)
  Object.assign(entry, { pid: id.pid, startTime: id.startTime, marker: 'sleep', persistent: true, envFile })
  if (envFile === undefined) delete entry.envFile
  writeEntry(entry)
  return entry
}

test('down with one env file leaves the persistent servers of another env file running', async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'tidings-reaper-test-'))
  const saved = process.env.TIDINGS_CACHE
  process.env.TIDINGS_CACHE = root
  const started: Entry[] = []
  t.after(() => {
    for (const e of started) if (isRunning(identity(e))) process.kill(e.pid, 'SIGKILL')
    if (saved === undefined) delete process.env.TIDINGS_CACHE
    else process.env.TIDINGS_CACHE = saved
    rmSync(root, { recursive: true, force: true })
  })
  const mine = fakePersistentServer('mine', '/checkout-a/.tidings/infra.env', root)
  const theirs = fakePersistentServer('theirs', '/checkout-b/.tidings/infra.env', root)
  // written by a launcher from before env files were recorded: whose it is cannot be told, so it goes
  const legacy = fakePersistentServer('legacy', undefined, root)
  started.push(mine, theirs, legacy)

  const stopped = await reapPersistentAndStale('/checkout-a/.tidings/infra.env')

  assert.deepEqual(stopped.map((e) => e.id).sort(), ['legacy', 'mine'])
  assert.equal(isRunning(identity(mine)), false)
  assert.equal(isRunning(identity(legacy)), false)
  assert.equal(isRunning(identity(theirs)), true, "the other checkout's server still runs")
  assert.deepEqual(
    listEntries().map((e) => e.id),
    ['theirs'],
  )
})
