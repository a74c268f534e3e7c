// An owner killed with SIGKILL cannot clean up: its watchdog must stop its servers.
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { Redis } from 'ioredis'
import { waitFor } from './index.ts'
import { terminate } from './process.ts'
import { isRunning } from './procfs.ts'

test('servers of a SIGKILLed owner are stopped by its watchdog', async (t) => {
  // Private registry: no other launcher's reaper may do the watchdog's job and hide a failure.
  const cache = mkdtempSync(join(tmpdir(), 'tidings-infra-test-cache-'))
  const child = spawn(process.execPath, [join(import.meta.dirname, 'fixtures', 'owner.ts')], {
    env: { ...process.env, TIDINGS_CACHE: cache },
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  let output = ''
  child.stdout.on('data', (chunk: Buffer) => {
    output += chunk.toString()
  })
  let redis: { pid: number; startTime: number; dir: string; port: number } | undefined
  t.after(async () => {
    child.kill('SIGKILL')
    if (redis) await terminate(redis, 'redis-server', 1000) // only if the test failed
    rmSync(cache, { recursive: true, force: true })
  })

  redis = await waitFor(() => (output.includes('\n') ? JSON.parse(output) : undefined), {
    timeoutMs: 20_000,
    message: 'child reported its redis',
  })
  assert.ok(redis)
  assert.ok(isRunning(redis))
  const client = new Redis(redis.port, '127.0.0.1')
  assert.equal(await client.ping(), 'PONG')
  client.disconnect()

  child.kill('SIGKILL')
  await waitFor(() => child.exitCode !== null || child.signalCode !== null, { message: 'child killed' })

  const { pid, dir } = redis
  await waitFor(() => !isRunning(redis!), {
    timeoutMs: 10_000,
    message: `redis pid ${pid} stopped by the watchdog`,
  })
  await waitFor(() => !existsSync(dir), { message: `${dir} removed` })
  await waitFor(() => readdirSync(join(cache, 'infra-registry')).length === 0, {
    message: 'registry entry removed',
  })
})
