// Each producer example (Java kafka-clients, Java Spring Kafka, Go franz-go, Python confluent-kafka) runs
// as its own process against the real broker, the real dispatcher consumes what it wrote, and a real
// WebSocket client on the real gateway receives the notification. Per producer: a plain-JSON send with a
// traceparent, a CloudEvents binary-mode resend of the SAME event id (a retry: deduped, no second
// notification), and a new event (delivered as the next seq). The records are read back to check key,
// headers and that every value passes the contract's validator.
import assert from 'node:assert/strict'
import { execFileSync, spawn } from 'node:child_process'
import { once } from 'node:events'
import { after, before, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { validateLoanDecision } from '@tidings/contracts'
import { readTopic } from '@tidings/test/e2e/kafka'
import { type Stack, startStack } from '@tidings/test/e2e/stack'
import { infraFromEnv, uniqueName } from '@tidings/test/infra'
import { signUserToken } from '@tidings/test/support/tokens'
import { openSocket } from '@tidings/test/support/ws-client'

const here = fileURLToPath(new URL('.', import.meta.url))
const TRACEPARENT = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01'

// Warm: a fraction of a second. Cold builds happen in scripts/bootstrap, before the tests.
const built = Object.fromEntries(
  execFileSync(`${here}build`, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] })
    .trim()
    .split('\n')
    .map((line) => line.split('=', 2) as [string, string]),
)
const path = (name: string): string => {
  const p = built[name]
  assert.ok(p, `examples/producers/build printed ${name}`)
  return p
}

const producers: Array<{ name: string; command: string; args: string[] }> = [
  { name: 'Java, kafka-clients', command: 'java', args: ['-jar', path('java_plain')] },
  { name: 'Java, Spring Kafka', command: 'java', args: ['-jar', path('java_spring')] },
  { name: 'Go, franz-go', command: path('go'), args: [] },
  { name: 'Python, confluent-kafka', command: path('python'), args: [`${here}python/producer.py`] },
]

async function run(
  command: string,
  args: string[],
): Promise<{ code: number | null; out: string; err: string }> {
  const child = spawn(command, args, {
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '' },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let out = ''
  let err = ''
  child.stdout.on('data', (c: Buffer) => {
    out += c.toString()
  })
  child.stderr.on('data', (c: Buffer) => {
    err += c.toString()
  })
  const timer = setTimeout(() => child.kill('SIGKILL'), 120_000)
  const [code] = (await once(child, 'exit')) as [number | null]
  clearTimeout(timer)
  return { code, out, err }
}

const { kafkaBrokers, redisUrl } = infraFromEnv()
let stack: Stack
let produced = 0

before(async () => {
  stack = await startStack({ redisUrl, kafkaBrokers, gateways: 1, name: 'producers' })
})
after(async () => {
  await stack?.stop()
})

for (const p of producers) {
  test(`${p.name}: keyed by user, retry reuses the event id, CloudEvents binary mode, traceparent`, async (t) => {
    t.after(() => stack.check(t))
    const user = uniqueName(`borrower-${p.name.replace(/\W+/g, '-')}`)
    const socket = await openSocket(stack.gateways[0]!.baseUrl, { token: await signUserToken(user) })
    try {
      await socket.next('welcome')
      const send = async (...extra: string[]) => {
        const common = ['--brokers', kafkaBrokers.join(','), '--topic', stack.topics.loanDecisions]
        const res = await run(p.command, [...p.args, ...common, '--borrower', user, ...extra])
        assert.equal(res.code, 0, `${p.name} exited ${res.code}: ${res.err}`)
        produced++
        const line = JSON.parse(res.out.trim()) as {
          eventId: string
          topic: string
          partition: number
          offset: number
        }
        assert.equal(line.topic, stack.topics.loanDecisions)
        return line
      }

      const first = await send('--decision', 'APPROVED', '--amount', '50000', '--traceparent', TRACEPARENT)
      // the same event again (what a retry after an unclear failure sends): same id → deduped
      const retry = await send('--decision', 'APPROVED', '--event-id', first.eventId, '--cloudevents')
      const next = await send(
        '--decision',
        'REJECTED',
        '--locale',
        'bn',
        '--cloudevents',
        '--traceparent',
        TRACEPARENT,
      )
      assert.equal(retry.eventId, first.eventId)
      assert.notEqual(next.eventId, first.eventId)
      // one key → one partition → the dispatcher handles them in this order
      assert.deepEqual(new Set([first.partition, retry.partition, next.partition]).size, 1)

      const n1 = await socket.next('notification', 60_000)
      const n2 = await socket.next('notification', 60_000)
      assert.equal(n1.seq, 1)
      assert.deepEqual(n1.data, {
        loanId: 'L-77',
        decision: 'APPROVED',
        amount: { value: 50000, currency: 'BDT' },
      })
      assert.equal(n1.title, 'Your loan application has been approved!')
      // had the resend not been deduped, seq 2 would be a second APPROVED
      assert.equal(n2.seq, 2)
      assert.equal((n2.data as { decision: string }).decision, 'REJECTED')
      assert.equal(n2.title, 'আপনার ঋণের আবেদন অনুমোদিত হয়নি')

      const records = (await readTopic(kafkaBrokers, stack.topics.loanDecisions, produced)).filter(
        (r) => r.key === user,
      )
      assert.equal(records.length, 3)
      records.sort((a, b) => Number(a.offset) - Number(b.offset))
      const [plain, ce1, ce2] = records as [(typeof records)[0], (typeof records)[0], (typeof records)[0]]
      for (const r of records) {
        const value = JSON.parse(String(r.value)) as unknown
        const v = validateLoanDecision(value)
        assert.ok(v.ok, `${p.name} wrote an event the contract refuses: ${String(r.value)}`)
        assert.equal(r.headers['content-type'], 'application/json')
      }
      assert.equal(plain.headers['tidings-event-type'], 'loan.decision')
      assert.equal(plain.headers.traceparent, TRACEPARENT)
      assert.equal(plain.headers.ce_specversion, undefined)
      for (const [r, id] of [
        [ce1, first.eventId],
        [ce2, next.eventId],
      ] as const) {
        assert.equal(r.headers.ce_specversion, '1.0')
        assert.equal(r.headers.ce_id, id)
        assert.equal(r.headers.ce_type, 'loan.decision')
        assert.match(r.headers.ce_source ?? '', /^\/\/loans\.example\.com\//)
        assert.equal(r.headers.ce_time, (JSON.parse(String(r.value)) as { occurredAt: string }).occurredAt)
      }
      assert.equal(ce2.headers.traceparent, TRACEPARENT)

      // bad input is refused before anything is sent
      const bad = await run(p.command, [...p.args, '--borrower', user, '--decision', 'MAYBE'])
      assert.notEqual(bad.code, 0)
      assert.match(bad.err, /decision/)
    } finally {
      await socket.close()
    }
  })
}
