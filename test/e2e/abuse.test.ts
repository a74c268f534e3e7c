// The abuse table of docs/RELIABILITY.md, proven: each attack against a real gateway process gets
// its close code or HTTP status, while a victim user on the same pod keeps receiving (a fresh
// notification after every attack, on the same socket, in order). Every actor comes from its own
// client IP (X-Forwarded-For through one trusted hop), so per-IP limits can be shown on a private
// Redis without the actors counting against each other.
import assert from 'node:assert/strict'
import { after, afterEach, before, test } from 'node:test'
import {
  createDeliveryStore,
  createRedisConnection,
  DEFAULT_RETENTION,
  type RedisClient,
} from '@tidings/delivery'
import { SignJWT } from 'jose'
import { WebSocket } from 'ws'
import { infraFromEnv, type RedisServer, startRedis, waitFor } from '../infra/index.ts'
import { openStalledSse } from '../support/raw-sse.ts'
import { clientFrame, closeCodeIn, Opcode, rawUpgrade } from '../support/raw-ws.ts'
import { signUserToken, TEST_JWT_SECRET } from '../support/tokens.ts'
import { openSocket, type TestSocket } from '../support/ws-client.ts'
import { type Stack, startStack } from './stack.ts'
import { newUserId, refusal } from './users.ts'

const ISSUER = 'https://id.tidings.test'
const AUDIENCE = 'tidings'
const SERVICE_TOKEN = 'abuse-service-credential-0123456789'
const HEARTBEAT_MS = 1000

let redisServer: RedisServer
let redis: RedisClient
let stack: Stack
let base: string
let victim: TestSocket
const victimId = newUserId('victim')
let ipN = 0
/** A client IP of its own for each actor. */
const actor = () => ({ 'x-forwarded-for': `203.0.113.${++ipN}` })
const token = (userId: string, extra: { issuedInS?: number; expiresInS?: number } = {}) =>
  signUserToken(userId, { issuer: ISSUER, audience: AUDIENCE, ...extra })

before(async () => {
  redisServer = await startRedis()
  redis = createRedisConnection({ url: redisServer.url }, { name: 'abuse' })
  stack = await startStack({
    name: 'abuse',
    redisUrl: redisServer.url,
    kafkaBrokers: infraFromEnv().kafkaBrokers,
    gateways: 1,
    dispatcher: false,
    gatewayEnv: {
      JWT_ISSUER: ISSUER,
      JWT_AUDIENCE: AUDIENCE,
      JWT_MAX_LIFETIME_S: '3600',
      SERVICE_TOKENS: SERVICE_TOKEN,
      TRUST_PROXY_HOPS: '1',
      HTTP_RATE_PER_USER: '5',
      HTTP_RATE_PER_IP: '10',
      CONNECT_RATE_PER_USER: '5',
      CONNECT_RATE_PER_IP: '10',
      MAX_SESSIONS_PER_USER: '2',
      MAX_CONNECTIONS: '30',
      CLOSE_TIMEOUT_MS: '500',
      HEARTBEAT_MS: String(HEARTBEAT_MS),
      MAX_FRAME_BYTES: '4096',
      MAX_VIOLATIONS: '2',
      RATE_LIMIT_PER_SECOND: '10',
      RATE_LIMIT_BURST: '20',
      MAX_QUEUED_FRAMES: '4',
      MAX_BUFFERED_BYTES: String(2 * 1024 * 1024),
    },
  })
  base = stack.gateways[0]!.baseUrl
  victim = await openSocket(base, { token: await token(victimId), headers: actor() })
  await victim.next('welcome')
})
afterEach((t) => stack?.check(t))
after(async () => {
  await victim?.close()
  redis?.disconnect()
  await stack?.stop()
  await redisServer?.stop()
})

const wsOf = async (userId = newUserId('att'), headers = actor()) =>
  openSocket(base, { token: await token(userId), headers })
const bigNotification = (i: number) => ({
  id: `big-${i}`,
  kind: 'abuse.big',
  createdAt: new Date().toISOString(),
  title: 'big',
  body: 'x'.repeat(512 * 1024),
  data: {},
})
const bodyCode = (body: string) => (JSON.parse(body) as { code: string }).code

/** Each attack resolves with what the gateway answered: `close <code>` or `HTTP <status> <code>`. */
const attacks: Array<{ name: string; expect: string; run: () => Promise<string> }> = [
  {
    name: 'Upgrade: websocket on /healthz, /metrics, /v1/sse, /v1/inbox, /v1/presence/x',
    expect: 'HTTP 400 TDG_ERR_UPGRADE_REFUSED',
    async run() {
      const seen = new Set<string>()
      for (const path of ['/healthz', '/metrics', '/v1/sse', '/v1/inbox', '/v1/presence/x']) {
        const r = await rawUpgrade(base, path, actor())
        seen.add(`HTTP ${r.status} ${/TDG_ERR_[A-Z_]+/.exec(r.response)?.[0]}`)
        r.socket.destroy()
      }
      return [...seen].join(' / ')
    },
  },
  {
    name: 'sockets closed by the server (1003) whose client never answers the close',
    expect: 'close 1003, TCP dropped',
    async run() {
      const socks = await Promise.all(
        Array.from({ length: 5 }, async () =>
          rawUpgrade(base, '/v1/ws', {
            authorization: `Bearer ${await token(newUserId('att'))}`,
            ...actor(),
          }),
        ),
      )
      for (const r of socks) r.send(Opcode.Binary, Buffer.from([1]))
      for (const r of socks)
        await waitFor(() => r.socket.readableEnded || r.socket.destroyed, { timeoutMs: 20_000 })
      return `close ${closeCodeIn(socks[0]!.received())}, TCP dropped`
    },
  },
  {
    name: 'more sockets than MAX_CONNECTIONS on the pod',
    expect: 'HTTP 503 TDG_ERR_TRY_AGAIN_LATER',
    async run() {
      const held: Awaited<ReturnType<typeof rawUpgrade>>[] = []
      let answer = ''
      while (!answer) {
        const r = await rawUpgrade(base, '/v1/ws', {
          authorization: `Bearer ${await token(newUserId('att'))}`,
          ...actor(),
        })
        if (r.status === 101) held.push(r)
        else answer = `HTTP ${r.status} ${/TDG_ERR_[A-Z_]+/.exec(r.response)?.[0]}`
      }
      for (const r of held) r.socket.destroy()
      return answer
    },
  },
  {
    name: 'ping control frames flood (one at a time, pongs read)',
    expect: 'close 4008',
    async run() {
      const s = await wsOf()
      await s.next('welcome')
      s.ws.on('pong', () => s.ws.readyState === WebSocket.OPEN && s.ws.ping())
      s.ws.ping()
      return `close ${(await s.closed).code}`
    },
  },
  {
    name: 'ping flood that never reads its pongs',
    expect: 'TCP dropped',
    async run() {
      const r = await rawUpgrade(base, '/v1/ws', {
        authorization: `Bearer ${await token(newUserId('att'))}`,
        ...actor(),
      })
      r.socket.pause()
      r.socket.write(
        Buffer.concat(Array.from({ length: 500 }, () => clientFrame(Opcode.Ping, Buffer.alloc(125)))),
      )
      r.socket.resume()
      await r.ended
      return 'TCP dropped'
    },
  },
  {
    name: 'frame flood (text frames faster than the rate limit)',
    expect: 'close 4008',
    async run() {
      const s = await wsOf()
      await s.next('welcome')
      for (let i = 0; i < 100; i++) s.send({ type: 'ping' })
      return `close ${(await s.closed).code}`
    },
  },
  {
    name: 'frames queued behind an awaiting handler (ack burst)',
    expect: 'close 4008',
    async run() {
      const s = await wsOf()
      const w = await s.next('welcome')
      for (let i = 0; i < 10; i++) s.send({ type: 'ack', seq: 0, epoch: w.epoch })
      return `close ${(await s.closed).code}`
    },
  },
  {
    name: 'oversized frame / binary frame / not JSON / repeated bad frames',
    expect: 'close 1009 / close 1003 / close 1007 / close 1008',
    async run() {
      const out = []
      for (const [data, binary] of [
        ['x'.repeat(5000), false],
        ['{}', true],
        ['not json', false],
      ] as const) {
        const s = await wsOf()
        await s.next('welcome')
        s.ws.send(data, { binary })
        out.push(`close ${(await s.closed).code}`)
      }
      const s = await wsOf()
      await s.next('welcome')
      for (let i = 0; i < 3; i++) s.send({ type: 'nope' })
      out.push(`close ${(await s.closed).code}`)
      return out.join(' / ')
    },
  },
  {
    name: 'more sessions than MAX_SESSIONS_PER_USER',
    expect: 'close 4029',
    async run() {
      const user = newUserId('att')
      const ip = actor()
      const held = [await wsOf(user, ip), await wsOf(user, ip)]
      for (const s of held) await s.next('welcome')
      const third = await wsOf(user, ip)
      const code = (await third.closed).code
      for (const s of held) await s.close()
      return `close ${code}`
    },
  },
  {
    name: 'reconnect flood of one user (across IPs)',
    expect: 'HTTP 429 TDG_ERR_RATE_LIMITED',
    async run() {
      const user = newUserId('att')
      for (;;) {
        try {
          const s = await wsOf(user)
          await s.close()
        } catch (e) {
          const r = e as { status: number; body: string }
          return `HTTP ${r.status} ${bodyCode(r.body)}`
        }
      }
    },
  },
  {
    name: '/v1/inbox flood: one user, then one IP with many users',
    expect: 'HTTP 429 TDG_ERR_RATE_LIMITED / HTTP 429 TDG_ERR_RATE_LIMITED',
    async run() {
      const out = []
      const user = newUserId('att')
      for (const perUser of [true, false]) {
        const ip = actor()
        for (;;) {
          const auth = `Bearer ${await token(perUser ? user : newUserId('att'))}`
          const res = await fetch(`${base}/v1/inbox`, {
            headers: { authorization: auth, ...(perUser ? actor() : ip) },
          })
          if (res.status === 200) continue
          assert.ok(Number(res.headers.get('retry-after')) >= 1)
          out.push(`HTTP ${res.status} ${bodyCode(await res.text())}`)
          break
        }
      }
      return out.join(' / ')
    },
  },
  {
    name: 'tokens: another audience, another issuer, exp in year 275760+, lifetime over the max',
    expect: 'HTTP 401 TDG_ERR_TOKEN_INVALID',
    async run() {
      const forged = [
        signUserToken(newUserId('att'), { issuer: ISSUER, audience: 'another-service' }),
        signUserToken(newUserId('att'), { issuer: 'https://other-idp.test', audience: AUDIENCE }),
        new SignJWT({})
          .setProtectedHeader({ alg: 'HS256' })
          .setSubject('att')
          .setIssuer(ISSUER)
          .setAudience(AUDIENCE)
          .setIssuedAt()
          .setExpirationTime(8.64e12 + 1)
          .sign(new TextEncoder().encode(TEST_JWT_SECRET)),
        token(newUserId('att'), { expiresInS: 2 * 3600 }),
      ]
      const seen = new Set<string>()
      for (const t of forged) {
        const r = await refusal(openSocket(base, { token: await t, headers: actor() }))
        seen.add(`HTTP ${r.status} ${bodyCode(r.body)}`)
      }
      return [...seen].join(' / ')
    },
  },
  {
    name: 'a stolen token after the backend revoked the user (logout)',
    expect: 'close 4003 / HTTP 401 TDG_ERR_TOKEN_REVOKED',
    async run() {
      const user = newUserId('att')
      const stolen = await token(user)
      const s = await openSocket(base, { token: stolen, headers: actor() })
      await s.next('welcome')
      const res = await fetch(`${base}/v1/users/${user}/revoke`, {
        method: 'POST',
        headers: { authorization: `Bearer ${SERVICE_TOKEN}` },
      })
      assert.equal(res.status, 200)
      const closed = `close ${(await s.closed).code}`
      const r = await refusal(openSocket(base, { token: stolen, headers: actor() }))
      return `${closed} / HTTP ${r.status} ${bodyCode(r.body)}`
    },
  },
  {
    name: 'a WebSocket client that stops reading',
    expect: 'close 1013 counted, TCP dropped',
    async run() {
      const user = newUserId('att')
      const r = await rawUpgrade(base, '/v1/ws', { authorization: `Bearer ${await token(user)}`, ...actor() })
      r.socket.pause()
      const closes1013 = async () =>
        Number(
          /tidings_ws_closes_total\{code="1013"[^}]*\} (\d+)/.exec(
            await (await fetch(`${base}/metrics`)).text(),
          )?.[1],
        )
      const before = await closes1013()
      const store = createDeliveryStore(redis, DEFAULT_RETENTION)
      for (let i = 0; i < 16; i++) await store.deliverToUser(user, `big-${i}`, bigNotification(i))
      await waitFor(async () => (await closes1013()) > before, { timeoutMs: 20_000 })
      r.socket.resume()
      await r.ended
      return 'close 1013 counted, TCP dropped'
    },
  },
  {
    name: 'an SSE client that stops reading (a vanished phone)',
    expect: 'stream dropped, session slot released',
    async run() {
      const user = newUserId('att')
      const { socket: sock } = await openStalledSse(base, {
        authorization: `Bearer ${await token(user)}`,
        ...actor(),
      })
      const store = createDeliveryStore(redis, DEFAULT_RETENTION)
      for (let i = 0; i < 32; i++) await store.deliverToUser(user, `big-${i}`, bigNotification(i))
      const presence = async () =>
        (await (
          await fetch(`${base}/v1/presence/${user}`, {
            headers: { authorization: `Bearer ${SERVICE_TOKEN}` },
          })
        ).json()) as { sessions: number }
      await waitFor(async () => (await presence()).sessions === 0, { timeoutMs: 30_000 })
      sock.destroy()
      return 'stream dropped, session slot released'
    },
  },
]

test('every attack gets its close code or status; the victim on the same pod keeps receiving', async () => {
  const store = createDeliveryStore(redis, DEFAULT_RETENTION)
  const rows: string[] = []
  let n = 0
  for (const a of attacks) {
    const got = await a.run()
    assert.equal(got, a.expect, a.name)
    n++
    await store.deliverToUser(victimId, `victim-${n}`, {
      id: `victim-${n}`,
      kind: 'abuse.victim',
      createdAt: new Date().toISOString(),
      title: `after: ${a.name}`,
      body: 'still delivered',
      data: {},
    })
    await victim.waitForCount('notification', n, 20_000)
    rows.push(`| ${a.name} | ${got} | ✔ |`)
  }
  const seqs = victim.frames.filter((f) => f.type === 'notification').map((f) => (f as { seq: number }).seq)
  assert.deepEqual(
    seqs,
    Array.from({ length: n }, (_, i) => i + 1),
    'the victim got each, once, in order',
  )
  assert.equal(victim.ws.readyState, WebSocket.OPEN, 'on the same socket')
  assert.ok(stack.gateways[0]!.running)
  process.stdout.write(`# abuse table\n${rows.map((r) => `# ${r}`).join('\n')}\n`)
})
