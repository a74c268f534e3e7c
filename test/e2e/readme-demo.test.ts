// The README's first commands, run as a newcomer runs them: `pnpm start` in one terminal, then
// `pnpm demo:emit --borrower b-1042 --decision APPROVED` in a second one — with no KAFKA_BROKERS
// anywhere: the emitter must find the Kafka the stack started. The borrower's socket (with the token
// the banner prints) gets the approval. On a machine with a live `pnpm infra:up` the stack reuses that
// Kafka, which demo:emit found before the fix too: the test proves the fix on a fresh clone (CI), where
// the stack starts its own.
import assert from 'node:assert/strict'
import { type ChildProcess, spawn } from 'node:child_process'
import { once } from 'node:events'
import { existsSync } from 'node:fs'
import { test } from 'node:test'
import { waitFor } from '../infra/index.ts'
import { stackEnvFile } from '../infra/paths.ts'
import { openSocket } from '../support/ws-client.ts'
import { freePort, repoRoot } from './processes.ts'

/** The environment of a fresh terminal: nothing of the test run's own infra. */
function newcomerEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const { KAFKA_BROKERS: _k, REDIS_URL: _r, REDIS_CLUSTER_NODES: _c, ...rest } = process.env
  return { ...rest, NO_COLOR: '1', ...extra }
}

test('README: `pnpm start`, then `pnpm demo:emit --borrower b-1042 --decision APPROVED` in a second terminal', async (t) => {
  // the README's ports may be taken on a shared machine; the stack's own settings move them
  const [gw1, gw2, dispatcherPort, demoPort] = [
    await freePort(),
    await freePort(),
    await freePort(),
    await freePort(),
  ]
  const stack: ChildProcess = spawn('pnpm', ['start'], {
    cwd: repoRoot,
    env: newcomerEnv({
      TIDINGS_GATEWAY_PORTS: `${gw1},${gw2}`,
      TIDINGS_DISPATCHER_PORT: String(dispatcherPort),
      TIDINGS_DEMO_PORT: String(demoPort),
      LOG_LEVEL: 'warn',
    }),
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true, // its own process group: the cleanup below reaches pnpm's children too
  })
  let output = ''
  stack.stdout?.setEncoding('utf8').on('data', (d: string) => {
    output += d
  })
  stack.stderr?.setEncoding('utf8').on('data', (d: string) => {
    output += d
  })
  const exited = once(stack, 'exit')
  t.after(() => {
    try {
      if (stack.pid) process.kill(-stack.pid, 'SIGKILL')
    } catch {
      // the group is gone already
    }
  })

  const token = await waitFor(() => /export TIDINGS_TOKEN=(\S+)/.exec(output)?.[1], {
    timeoutMs: 120_000,
    message: `the start banner with a token; output so far:\n${output.slice(-3000)}`,
  })
  assert.match(output, new RegExp(`gateway\\s+ws://127\\.0\\.0\\.1:${gw1}/v1/ws`))
  assert.match(
    output,
    /pnpm demo:emit --borrower b-1042 --decision APPROVED/,
    'the banner shows the README command',
  )
  const socket = await openSocket(`http://127.0.0.1:${gw1}`, { token })
  t.after(() => socket.close())
  await socket.next('welcome')

  const emittedFrom = Date.now() - 1000 // demo:emit stamps occurredAt (= the notification's createdAt) with now
  const emit = spawn('pnpm', ['demo:emit', '--borrower', 'b-1042', '--decision', 'APPROVED'], {
    cwd: repoRoot,
    env: newcomerEnv(),
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let emitOutput = ''
  for (const s of [emit.stdout, emit.stderr])
    s?.setEncoding('utf8').on('data', (d: string) => (emitOutput += d))
  const [code] = await once(emit, 'exit')
  assert.equal(code, 0, emitOutput)

  // the borrower's inbox may hold earlier approvals (a reused `pnpm infra:up`): wait for this one
  await waitFor(
    () =>
      socket.frames.find(
        (f) =>
          f.type === 'notification' &&
          f.title === 'Your loan application has been approved!' &&
          Date.parse(f.createdAt) >= emittedFrom,
      ),
    { timeoutMs: 30_000, message: 'the approval on the borrower socket' },
  )

  // Ctrl-C: everything stops and the stack's env file is gone
  process.kill(-(stack.pid as number), 'SIGINT')
  await exited
  assert.equal(existsSync(stackEnvFile), false)
})
