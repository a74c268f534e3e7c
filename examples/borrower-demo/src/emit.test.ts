// The demo producer CLI: its arguments, and the records it really writes to Kafka (run as a child
// process, read back with a consumer).
import assert from 'node:assert/strict'
import { type ChildProcess, spawn } from 'node:child_process'
import { once } from 'node:events'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { validateLoanDecision } from '@tidings/contracts'
import { readTopic } from '@tidings/test/e2e/kafka'
import { createTopics, infraFromEnv, uniqueName, waitFor } from '@tidings/test/infra'
import { writeEnvFile } from '@tidings/test/infra/env-file'
import { nextDecision, parseEmitArgs, resolveBrokers, UsageError } from './emit.ts'

const cli = fileURLToPath(new URL('./emit.ts', import.meta.url))

function run(args: string[], env: Record<string, string> = {}) {
  const child = spawn(process.execPath, [cli, ...args], {
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let out = ''
  child.stdout.on('data', (c: Buffer) => {
    out += c.toString()
  })
  child.stderr.on('data', (c: Buffer) => {
    out += c.toString()
  })
  const exited = once(child, 'exit').then(([code]) => code as number | null)
  return { child, exited, output: () => out }
}

async function exitOf(p: { child: ChildProcess; exited: Promise<number | null>; output(): string }) {
  const timer = setTimeout(() => p.child.kill('SIGKILL'), 30_000)
  try {
    return { code: await p.exited, output: p.output() }
  } finally {
    clearTimeout(timer)
  }
}

test('arguments: one decision, a stream, and what is refused', () => {
  assert.deepEqual(parseEmitArgs(['--borrower', 'b-1042', '--decision', 'approved']), {
    mode: 'one',
    brokers: undefined,
    topic: 'loan.decisions',
    decision: { borrowerId: 'b-1042', loanId: 'L-77', decision: 'APPROVED' },
  })
  const full = parseEmitArgs([
    '--borrower=b-7',
    '--decision=DISBURSED',
    '--loan=L-1',
    '--amount=50000',
    '--currency=usd',
    '--locale=bn',
    '--reason=R1',
    '--event-id=e-1',
    '--brokers=k1:9092, k2:9092',
    '--topic=t',
  ])
  assert.deepEqual(full, {
    mode: 'one',
    brokers: ['k1:9092', 'k2:9092'],
    topic: 't',
    decision: {
      borrowerId: 'b-7',
      loanId: 'L-1',
      decision: 'DISBURSED',
      amount: { value: 50000, currency: 'USD' },
      locale: 'bn',
      reasonCode: 'R1',
      eventId: 'e-1',
    },
  })
  const stream = parseEmitArgs(['--stream', '--rate', '5', '--count', '10', '--borrower', 'a,b'])
  assert.equal(stream.mode, 'stream')
  assert.ok(stream.mode === 'stream')
  assert.deepEqual([stream.rate, stream.count, stream.borrowers], [5, 10, ['a', 'b']])
  assert.deepEqual(parseEmitArgs(['--stream']).mode === 'stream' && parseEmitArgs(['--stream']), {
    mode: 'stream',
    brokers: undefined,
    topic: 'loan.decisions',
    borrowers: ['b-1042', 'b-1043', 'b-1044', 'b-1045', 'b-1046'],
    rate: 2,
    count: undefined,
    locale: undefined,
  })
  for (const bad of [
    [],
    ['--decision', 'APPROVED'],
    ['--borrower', 'b', '--decision', 'MAYBE'],
    ['--borrower', 'b', '--locale', 'fr'],
    ['--borrower', 'b', '--amount', 'lots'],
    ['--borrower', 'b', '--currency', 'BDT'],
    ['--borrower', 'b', '--count', '3'],
    ['--stream', '--decision', 'APPROVED'],
    ['--stream', '--rate', '0'],
    ['--stream', '--count', '1.5'],
    ['--borrower', 'b', '--nope'],
    ['--borrower', 'b', 'extra'],
  ]) {
    assert.throws(() => parseEmitArgs(bad), UsageError, JSON.stringify(bad))
  }
})

test('brokers: --brokers, then KAFKA_BROKERS, then the first env file whose servers answer', async (t) => {
  assert.deepEqual(await resolveBrokers(['x:1']), ['x:1'])
  assert.deepEqual(await resolveBrokers(undefined, { KAFKA_BROKERS: 'a:1,b:2' }), ['a:1', 'b:2'])
  const dir = mkdtempSync(join(tmpdir(), 'emit-brokers-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  const { kafkaBrokers, redisUrl } = infraFromEnv()
  const live = join(dir, 'live.env')
  const stale = join(dir, 'stale.env')
  writeEnvFile(live, { KAFKA_BROKERS: kafkaBrokers.join(','), REDIS_URL: redisUrl })
  writeEnvFile(stale, { KAFKA_BROKERS: '127.0.0.1:1', REDIS_URL: 'redis://127.0.0.1:1' })
  assert.deepEqual(await resolveBrokers(undefined, {}, [stale, join(dir, 'none.env'), live]), kafkaBrokers)
  await assert.rejects(resolveBrokers(undefined, {}, [stale]), UsageError)
})

test('stream decisions follow a loan life cycle', () => {
  const seq = (...r: number[]) => {
    let i = 0
    return () => r[i++ % r.length]!
  }
  assert.equal(nextDecision({ loanId: 'L', last: 'APPROVED', amount: 1 }, Math.random), 'DISBURSED')
  assert.equal(nextDecision({ loanId: 'L', last: 'NEEDS_INFO', amount: 1 }, seq(0.1)), 'APPROVED')
  assert.equal(nextDecision({ loanId: 'L', last: 'NEEDS_INFO', amount: 1 }, seq(0.9)), 'REJECTED')
  assert.equal(nextDecision({ loanId: 'L', last: undefined, amount: 1 }, seq(0.1)), 'APPROVED')
  assert.equal(nextDecision({ loanId: 'L', last: undefined, amount: 1 }, seq(0.6)), 'NEEDS_INFO')
  assert.equal(nextDecision({ loanId: 'L', last: undefined, amount: 1 }, seq(0.9)), 'REJECTED')
})

test('the CLI writes valid loan.decisions records keyed by borrower; a stream stops at --count or on Ctrl-C', async () => {
  const { kafkaBrokers } = infraFromEnv()
  const topic = uniqueName('demo-emit.loan.decisions')
  await createTopics(kafkaBrokers, [topic], 2)
  const brokers = kafkaBrokers.join(',')

  const one = await exitOf(
    run([
      '--borrower',
      'b-emit-1',
      '--decision',
      'APPROVED',
      '--loan',
      'L-9',
      '--amount',
      '1200.5',
      '--currency',
      'usd',
      '--locale',
      'bn',
      '--topic',
      topic,
      '--brokers',
      brokers,
    ]),
  )
  assert.equal(one.code, 0, one.output)
  assert.match(one.output, /sent APPROVED for b-emit-1 \(loan L-9\)/)

  // brokers from the environment this time
  const stream = await exitOf(
    run(['--stream', '--rate', '50', '--count', '6', '--borrower', 'b-s1,b-s2', '--topic', topic], {
      KAFKA_BROKERS: brokers,
    }),
  )
  assert.equal(stream.code, 0, stream.output)
  assert.match(stream.output, /sent 6 decisions/)

  const endless = run([
    '--stream',
    '--rate',
    '20',
    '--borrower',
    'b-s3',
    '--topic',
    topic,
    '--brokers',
    brokers,
  ])
  await waitFor(() => /b-s3 loan/.test(endless.output()), {
    timeoutMs: 20_000,
    message: 'the stream started',
  })
  endless.child.kill('SIGINT')
  const stopped = await exitOf(endless)
  assert.equal(stopped.code, 0, stopped.output)
  const endlessSent = Number(/sent (\d+) decisions/.exec(stopped.output)?.[1])
  assert.ok(endlessSent >= 1, stopped.output)

  const records = await readTopic(kafkaBrokers, topic, 1 + 6 + endlessSent)
  const events = records.map((r) => {
    const v = validateLoanDecision(JSON.parse(r.value!.toString('utf8')))
    assert.ok(v.ok, v.ok ? '' : v.message)
    assert.equal(r.key, v.value.borrowerId, 'key = borrower id')
    return v.value
  })
  const single = events.find((e) => e.borrowerId === 'b-emit-1')
  assert.deepEqual(
    { ...single, eventId: undefined, occurredAt: undefined },
    {
      eventId: undefined,
      occurredAt: undefined,
      borrowerId: 'b-emit-1',
      loanId: 'L-9',
      decision: 'APPROVED',
      amount: { value: 1200.5, currency: 'USD' },
      locale: 'bn',
    },
  )
  const streamed = events.filter((e) => e.borrowerId === 'b-s1' || e.borrowerId === 'b-s2')
  assert.equal(streamed.length, 6)
  assert.equal(new Set(events.map((e) => e.eventId)).size, events.length, 'a fresh event id each')
  // per borrower (one partition each, so in order): an approved loan is disbursed next
  for (const b of ['b-s1', 'b-s2', 'b-s3']) {
    const mine = events.filter((e) => e.borrowerId === b)
    mine.forEach((e, i) => {
      if (e.decision === 'APPROVED' && mine[i + 1]) {
        assert.deepEqual([mine[i + 1]!.loanId, mine[i + 1]!.decision], [e.loanId, 'DISBURSED'])
      }
    })
  }
})

test('usage errors exit 2 with the usage text; --help exits 0', async () => {
  const bad = await exitOf(run(['--borrower', 'b', '--decision', 'MAYBE']))
  assert.equal(bad.code, 2)
  assert.match(bad.output, /--decision must be one of APPROVED, REJECTED, NEEDS_INFO, DISBURSED/)
  assert.match(bad.output, /Usage:/)
  const help = await exitOf(run(['--help']))
  assert.equal(help.code, 0)
  assert.match(help.output, /--stream/)
})
