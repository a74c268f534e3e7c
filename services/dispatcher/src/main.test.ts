// The dispatcher as a process: what an orchestrator sees (exit codes, JSON logs, probes, SIGTERM).
import assert from 'node:assert/strict'
import { type ChildProcess, spawn } from 'node:child_process'
import { once } from 'node:events'
import { test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { infraFromEnv, uniqueName, waitFor } from '@tidings/test/infra'

const main = fileURLToPath(new URL('./main.ts', import.meta.url))

function run(env: Record<string, string>): { child: ChildProcess; stdout: string[]; stderr: () => string } {
  const child = spawn(process.execPath, [main], {
    // only what the test sets: nothing from the developer's shell leaks into the config
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  const stdout: string[] = []
  let err = ''
  let partial = ''
  child.stdout!.on('data', (chunk: Buffer) => {
    const lines = (partial + chunk.toString()).split('\n')
    partial = lines.pop() ?? ''
    stdout.push(...lines)
  })
  child.stderr!.on('data', (chunk: Buffer) => {
    err += chunk.toString()
  })
  return { child, stdout, stderr: () => err }
}

test('a bad setting stops the process with exit code 78 and a message naming the variable', async () => {
  const { child, stderr } = run({ KAFKA_BROKERS: 'k:9092', REDIS_URL: 'redis://r:6379', INBOX_CAP: 'many' })
  const [code] = await once(child, 'exit')
  assert.equal(code, 78)
  assert.match(stderr(), /^dispatcher: configuration error: INBOX_CAP must be integer$/m)
})

test('a state TTL shorter than the inbox TTL stops the process with exit code 78 naming STATE_TTL_SECONDS', async () => {
  const { child, stderr } = run({
    KAFKA_BROKERS: 'k:9092',
    REDIS_URL: 'redis://r:6379',
    INBOX_TTL_SECONDS: '7200',
    STATE_TTL_SECONDS: '3600',
  })
  const [code] = await once(child, 'exit')
  assert.equal(code, 78)
  assert.match(
    stderr(),
    /^dispatcher: configuration error: STATE_TTL_SECONDS must be at least INBOX_TTL_SECONDS/m,
  )
})

test('starts, answers its probes, logs JSON, and stops cleanly on SIGTERM', async (t) => {
  const infra = infraFromEnv()
  const proc = run({
    KAFKA_BROKERS: infra.kafkaBrokers.join(','),
    REDIS_URL: infra.redisUrl,
    KAFKA_GROUP_ID: uniqueName('dispatcher'),
    TOPIC_LOAN_DECISIONS: uniqueName('loan'),
    TOPIC_NOTIFICATIONS_REQUESTED: uniqueName('requested'),
    TOPIC_DLQ: uniqueName('dlq'),
    KAFKA_SESSION_TIMEOUT_MS: '6000',
    KAFKA_HEARTBEAT_INTERVAL_MS: '500',
    KAFKA_MAX_WAIT_MS: '100',
    HTTP_PORT: '0',
    HTTP_HOST: '127.0.0.1',
  })
  t.after(() => {
    if (proc.child.exitCode === null) proc.child.kill('SIGKILL')
  })
  const logs = () => proc.stdout.filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>)
  const started = await waitFor(() => logs().find((l) => l.msg === 'dispatcher started'), {
    timeoutMs: 30_000,
    message: `the "dispatcher started" log line (stderr: ${proc.stderr()})`,
  })
  assert.equal(started.name, 'dispatcher')
  const base = `http://127.0.0.1:${started.httpPort as number}`
  assert.equal((await fetch(`${base}/healthz`)).status, 200)
  await waitFor(async () => (await fetch(`${base}/readyz`)).status === 200, { message: 'ready' })

  proc.child.kill('SIGTERM')
  const [code] = await once(proc.child, 'exit')
  assert.equal(code, 0, proc.stderr())
  assert.ok(logs().some((l) => l.msg === 'dispatcher stopped'))
})
