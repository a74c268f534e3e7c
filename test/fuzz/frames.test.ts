// Fuzz of client frames against a live gateway process (real process, real `ws` clients):
// random and mutated frames, each checked against what the protocol says (frame-gen.ts), while a
// sentinel user on the same pod keeps receiving notifications. TIDINGS_FUZZ=full sends ≥ 10,000
// frames (pnpm test:fuzz); otherwise ~1,000 (pnpm test). TIDINGS_FUZZ_SEED replays a run.
import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import {
  createDeliveryStore,
  createRedisConnection,
  DEFAULT_RETENTION,
  type RedisClient,
} from '@tidings/delivery'
import { WebSocket } from 'ws'
import { type Stack, startStack } from '../e2e/stack.ts'
import { connectUser, newUserId, type UserSocket } from '../e2e/users.ts'
import { infraFromEnv, waitFor } from '../infra/index.ts'
import { signUserToken } from '../support/tokens.ts'
import { ALLOWED_TOPIC, expectedOutcome, type FuzzFrame, nextFrame, type Outcome } from './frame-gen.ts'
import { prng } from './prng.ts'

const FULL = process.env.TIDINGS_FUZZ === 'full'
const FRAMES = FULL ? 10_000 : 1_000
const SEED = Number(process.env.TIDINGS_FUZZ_SEED ?? Date.now() % 1_000_000)
const LIMITS = { maxFrameBytes: 4096, maxViolations: 2 }
const WORKERS = 8
/** A notification for the sentinel after every this many fuzz connections. */
const SENTINEL_EVERY = 10

let stack: Stack
let redis: RedisClient
let sentinel: UserSocket
const sentinelId = newUserId('sentinel')

before(async () => {
  const { redisUrl, kafkaBrokers } = infraFromEnv()
  stack = await startStack({
    name: 'fuzz-frames',
    redisUrl,
    kafkaBrokers,
    gateways: 1,
    dispatcher: false,
    gatewayEnv: {
      MAX_FRAME_BYTES: String(LIMITS.maxFrameBytes),
      MAX_VIOLATIONS: String(LIMITS.maxViolations),
      LOG_LEVEL: 'warn',
    },
  })
  redis = createRedisConnection({ url: redisUrl }, { name: 'fuzz-frames' })
  sentinel = await connectUser(stack.gateways[0]!.baseUrl, sentinelId)
})

after(async () => {
  await sentinel?.close()
  redis?.disconnect()
  await stack?.stop()
})

interface Run {
  frames: FuzzFrame[]
  expected: Outcome[]
}

/** Frames for one connection: up to 8, cut after the first one that closes the session. */
function plan(r: () => number): Run {
  const frames: FuzzFrame[] = []
  const expected: Outcome[] = []
  const violations = { count: 0 }
  for (let n = 1 + Math.floor(r() * 8); n > 0; n--) {
    const f = nextFrame(r, LIMITS.maxFrameBytes)
    const o = expectedOutcome(f, LIMITS, violations)
    frames.push(f)
    expected.push(o)
    if ('close' in o) return { frames, expected }
  }
  // no closing frame: a last ping proves the session is alive and every reply came
  frames.push({ bytes: Buffer.from('{"type":"ping"}'), binary: false, origin: 'final ping' })
  expected.push({ reply: 'pong' })
  return { frames, expected }
}

async function runConnection(base: string, run: Run): Promise<void> {
  const userId = newUserId('fz')
  const token = await signUserToken(userId, { topics: [ALLOWED_TOPIC] })
  const ws = new WebSocket(`${base.replace(/^http/, 'ws')}/v1/ws`, {
    headers: { authorization: `Bearer ${token}` },
  })
  const replies: string[] = []
  let welcomed!: () => void
  const welcome = new Promise<void>((resolve) => {
    welcomed = resolve
  })
  ws.on('message', (data) => {
    const type = (JSON.parse(String(data)) as { type: string }).type
    if (type === 'welcome') welcomed()
    else replies.push(type)
  })
  const closed = new Promise<number>((resolve) => ws.on('close', (code) => resolve(code)))
  ws.on('error', () => {})
  await Promise.race([welcome, closed.then((c) => assert.fail(`closed ${c} before welcome`))])
  for (const f of run.frames) ws.send(f.bytes, { binary: f.binary })
  const last = run.expected.at(-1)!
  const wanted = run.expected.flatMap((o) => ('reply' in o ? [o.reply] : []))
  const what = () =>
    `seed ${SEED}; frames ${JSON.stringify(run.frames.map((f) => [f.origin, f.binary, f.bytes.toString('base64').slice(0, 200)]))}; expected ${JSON.stringify(run.expected)}; got ${JSON.stringify(replies)}`
  if ('close' in last) {
    const code = await closed
    assert.equal(code, last.close, what())
    // refused by the WebSocket layer (size, UTF-8): replies to earlier frames may be cut short
    if (last.early) assert.deepEqual(replies, wanted.slice(0, replies.length), what())
    else assert.deepEqual(replies, wanted, what())
  } else {
    await Promise.race([
      waitFor(() => replies.length >= wanted.length, { timeoutMs: 20_000, message: what() }),
      closed.then((c) => assert.fail(`closed ${c}: ${what()}`)),
    ])
    assert.deepEqual(replies, wanted, what())
    ws.close()
    await closed
  }
}

test(`fuzz: ${FRAMES} random and mutated frames; every bad one gets its close code; the sentinel keeps receiving`, async () => {
  const gw = stack.gateways[0]!
  const store = createDeliveryStore(redis, DEFAULT_RETENTION)
  const r = prng(SEED)
  let sent = 0
  let connections = 0
  let sentinelSent = 0
  const closes = new Map<number, number>()
  const nextRun = (): Run | undefined => {
    if (sent >= FRAMES) return undefined
    const run = plan(r)
    sent += run.frames.length
    return run
  }
  const worker = async () => {
    for (let run = nextRun(); run; run = nextRun()) {
      await runConnection(gw.baseUrl, run)
      const last = run.expected.at(-1)!
      if ('close' in last) closes.set(last.close, (closes.get(last.close) ?? 0) + 1)
      if (++connections % SENTINEL_EVERY === 0) {
        const n = ++sentinelSent
        await store.deliverToUser(sentinelId, `sentinel-${SEED}-${n}`, {
          id: `sentinel-${n}`,
          kind: 'fuzz.sentinel',
          createdAt: new Date().toISOString(),
          title: `sentinel ${n}`,
          body: 'still here',
          data: {},
        })
        await sentinel.waitForCount('notification', n, 20_000)
      }
    }
  }
  await Promise.all(Array.from({ length: WORKERS }, worker))
  assert.ok(gw.running, 'the gateway process is still running')
  const seqs = sentinel.notifications().map((n) => n.seq)
  assert.deepEqual(
    seqs,
    Array.from({ length: sentinelSent }, (_, i) => i + 1),
    'the sentinel got each, in order',
  )
  const bad = gw.logLines().filter((l) => (l.level as number) >= 50 || /unhandled/i.test(String(l.msg)))
  assert.deepEqual(bad, [], 'no error, fatal or unhandled-rejection line in the gateway log')
  // every kind of refusal was exercised
  for (const code of [1003, 1007, 1008, 1009, 4001]) assert.ok(closes.get(code), `no run ended with ${code}`)
  process.stdout.write(
    `# fuzz frames: seed ${SEED}, ${sent} frames over ${connections} connections, closes ${JSON.stringify(Object.fromEntries(closes))}, sentinel ${sentinelSent}\n`,
  )
})
