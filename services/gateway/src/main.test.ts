// The gateway as a process: what an orchestrator sees (exit codes, probes, JSON logs, SIGTERM).
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { freePorts, infraFromEnv, uniqueName, waitFor } from '@tidings/test/infra'
import { signUserToken, TEST_JWT_SECRET } from '@tidings/test/support/tokens'
import { openSocket } from '@tidings/test/support/ws-client'

const main = fileURLToPath(new URL('./main.ts', import.meta.url))

function run(env: Record<string, string>) {
  // only what the test sets: nothing from the developer's shell leaks into the config
  const child = spawn(process.execPath, [main], {
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let out = ''
  let err = ''
  child.stdout.on('data', (c: Buffer) => {
    out += c
  })
  child.stderr.on('data', (c: Buffer) => {
    err += c
  })
  return { child, stdout: () => out, stderr: () => err }
}

const bad: Array<[string, Record<string, string>, RegExp]> = [
  [
    'the README’s public secret without DEV_MODE',
    {
      REDIS_URL: 'redis://r:6379',
      JWT_ALGORITHMS: 'HS256',
      JWT_SECRET: TEST_JWT_SECRET,
      JWT_ISSUER: 'https://id.example.com',
      JWT_AUDIENCE: 'tidings',
    },
    /^gateway: configuration error: JWT_SECRET is the public development secret .*DEV_MODE=true/m,
  ],
  [
    'no audience outside development',
    {
      REDIS_URL: 'redis://r:6379',
      JWT_ALGORITHMS: 'HS256',
      JWT_SECRET: 's'.repeat(32),
      JWT_ISSUER: 'https://id.example.com',
    },
    /^gateway: configuration error: JWT_AUDIENCE is required \(DEV_MODE=true skips it\)$/m,
  ],
  [
    'no algorithm allow-list',
    { REDIS_URL: 'redis://r:6379' },
    /^gateway: configuration error: JWT_ALGORITHMS is required but not set$/m,
  ],
  [
    'alg none',
    { REDIS_URL: 'redis://r:6379', JWT_ALGORITHMS: 'none' },
    /^gateway: configuration error: JWT_ALGORITHMS .*none/m,
  ],
  [
    'no Redis',
    { JWT_ALGORITHMS: 'HS256', JWT_SECRET: TEST_JWT_SECRET },
    /^gateway: configuration error: REDIS_URL .*REDIS_CLUSTER_NODES/m,
  ],
  [
    'a frame limit that is not a number',
    {
      REDIS_URL: 'redis://r:6379',
      JWT_ALGORITHMS: 'HS256',
      JWT_SECRET: TEST_JWT_SECRET,
      MAX_FRAME_BYTES: 'big',
    },
    /^gateway: configuration error: MAX_FRAME_BYTES must be integer$/m,
  ],
  [
    'a state TTL below a minute',
    {
      REDIS_URL: 'redis://r:6379',
      JWT_ALGORITHMS: 'HS256',
      JWT_SECRET: TEST_JWT_SECRET,
      DEV_MODE: 'true',
      STATE_TTL_SECONDS: '10',
    },
    /^gateway: configuration error: STATE_TTL_SECONDS must be >= 60$/m,
  ],
]

for (const [what, env, message] of bad) {
  test(`a bad setting stops the process with exit code 78 and names the variable: ${what}`, async () => {
    const p = run(env)
    const [code] = await once(p.child, 'exit')
    assert.equal(code, 78)
    assert.match(p.stderr(), message)
  })
}

/** A development gateway on 127.0.0.1:`port` with the tests' Redis. */
const devEnv = (port: number | undefined) => ({
  REDIS_URL: infraFromEnv().redisUrl,
  HOST: '127.0.0.1',
  PORT: String(port),
  JWT_ALGORITHMS: 'HS256',
  JWT_SECRET: TEST_JWT_SECRET,
  DEV_MODE: 'true',
  DRAIN_MS: '100',
})

test('starts, answers its probes, logs JSON, and drains on SIGTERM with exit code 0', async () => {
  const [port] = await freePorts(1)
  const p = run({
    ...devEnv(port),
    // the dispatcher's setting, beyond any bound the gateway once had: not the gateway's, ignored
    INBOX_CAP: '5000000',
  })
  const base = `http://127.0.0.1:${port}`
  try {
    await waitFor(async () => (await fetch(`${base}/readyz`)).status === 200, { message: 'ready' })
    assert.equal((await fetch(`${base}/healthz`)).status, 200)
    const line = JSON.parse(
      p
        .stdout()
        .split('\n')
        .find((l) => l.includes('gateway listening')) ?? '{}',
    )
    assert.equal(line.name, 'gateway')
    assert.equal(line.level, 30)
    p.child.kill('SIGTERM')
    const [code] = await once(p.child, 'exit')
    assert.equal(code, 0)
    assert.match(p.stdout(), /"msg":"stopped"/)
  } finally {
    p.child.kill('SIGKILL')
  }
})

test('with ADMIN_PORT the process serves its probes and metrics on that port only', async () => {
  const [port, adminPort] = await freePorts(2)
  const p = run({ ...devEnv(port), ADMIN_PORT: String(adminPort), ADMIN_HOST: '127.0.0.1' })
  const admin = `http://127.0.0.1:${adminPort}`
  try {
    await waitFor(async () => (await fetch(`${admin}/readyz`).catch(() => ({ status: 0 }))).status === 200, {
      message: 'ready on the admin port',
    })
    assert.match(await (await fetch(`${admin}/metrics`)).text(), /tidings_ws_connections/)
    assert.equal((await fetch(`http://127.0.0.1:${port}/metrics`)).status, 404)
    p.child.kill('SIGTERM')
    const [code] = await once(p.child, 'exit')
    assert.equal(code, 0)
  } finally {
    p.child.kill('SIGKILL')
  }
})

test('after a burst of sessions, once quiet, the process compacts its heap and says so (COMPACT_AFTER_SESSIONS)', async () => {
  const [port] = await freePorts(1)
  const p = run({
    ...devEnv(port),
    COMPACT_AFTER_SESSIONS: '3',
  })
  const base = `http://127.0.0.1:${port}`
  const compactions = () =>
    p
      .stdout()
      .split('\n')
      .filter((l) => l.includes('heap compacted'))
      .map((l) => JSON.parse(l) as { sessions: number; open: number; pauseMs: number })
  try {
    await waitFor(async () => (await fetch(`${base}/readyz`)).status === 200, { message: 'ready' })
    const sockets = await Promise.all(
      [1, 2, 3].map(async () => openSocket(base, { token: await signUserToken(uniqueName('u')) })),
    )
    await waitFor(() => compactions().length === 1, { message: 'a compaction logged', timeoutMs: 15_000 })
    const [line] = compactions()
    assert.equal(line!.sessions, 3)
    assert.equal(line!.open, 3)
    assert.ok(line!.pauseMs >= 0)
    await Promise.all(sockets.map((s) => s.close()))
  } finally {
    p.child.kill('SIGKILL')
  }
})
