// The handshake and frame rules of docs/protocol.md §3–4 against a real gateway process: every refusal is
// an HTTP status before the upgrade; bad frames get the documented close codes. (The gateway's unit
// tests cover the details; this is a compact pass over the real process and its real config.)
import assert from 'node:assert/strict'
import { after, afterEach, before, test } from 'node:test'
import { SignJWT } from 'jose'
import { infraFromEnv, type RedisServer, startRedis } from '../infra/index.ts'
import { signUserToken, TEST_JWT_SECRET } from '../support/tokens.ts'
import { openSocket } from '../support/ws-client.ts'
import { type Stack, startStack } from './stack.ts'
import { connectUser, newUserId, refusal } from './users.ts'

const ISSUER = 'https://id.tidings.test'
const AUDIENCE = 'tidings-gateway'
const ORIGIN = 'https://app.tidings.test'

let redisServer: RedisServer
let stack: Stack
let gw: string

before(async () => {
  const { kafkaBrokers } = infraFromEnv()
  redisServer = await startRedis()
  stack = await startStack({
    name: 'e2e-auth',
    redisUrl: redisServer.url,
    kafkaBrokers,
    gateways: 1,
    dispatcher: false,
    gatewayEnv: {
      JWT_ISSUER: ISSUER,
      JWT_AUDIENCE: AUDIENCE,
      ALLOWED_ORIGINS: ORIGIN,
      MAX_SESSIONS_PER_USER: '2',
    },
  })
  gw = stack.gateways[0]!.baseUrl
})

afterEach((t) => stack?.check(t))

after(async () => {
  await stack?.stop()
  await redisServer?.stop()
})

const good = (userId: string, extra: Parameters<typeof signUserToken>[1] = {}) =>
  signUserToken(userId, { issuer: ISSUER, audience: AUDIENCE, ...extra })

const b64url = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url')

test('a good token is accepted by header and by subprotocol, from no Origin or an allowed one', async () => {
  const user = newUserId('auth')
  const byHeader = await connectUser(gw, user, { token: await good(user) })
  const bySubprotocol = await connectUser(gw, user, {
    token: await good(user),
    via: 'subprotocol',
    origin: ORIGIN,
  })
  try {
    assert.equal(
      bySubprotocol.ws.protocol,
      'tidings.v1',
      'the server selects tidings.v1, never echoes the bearer',
    )
    assert.equal(byHeader.welcome.protocol, 1)
  } finally {
    await Promise.all([byHeader.close(), bySubprotocol.close()])
  }
})

test('bad tokens and foreign origins are refused before the upgrade', async () => {
  const user = newUserId('auth')
  const now = Math.floor(Date.now() / 1000)
  const claims = { sub: user, iss: ISSUER, aud: AUDIENCE, iat: now, exp: now + 600 }
  const unsigned = `${b64url({ alg: 'none', typ: 'JWT' })}.${b64url(claims)}.`
  const otherKey = new TextEncoder().encode(`${TEST_JWT_SECRET}-but-another-one`)
  const wrongKey = await new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).sign(otherKey)
  const { sub: _sub, ...noSubClaims } = claims
  const noSub = await new SignJWT(noSubClaims)
    .setProtectedHeader({ alg: 'HS256' })
    .sign(new TextEncoder().encode(TEST_JWT_SECRET))
  const { exp: _exp, ...noExpClaims } = claims
  const noExp = await new SignJWT(noExpClaims)
    .setProtectedHeader({ alg: 'HS256' })
    .sign(new TextEncoder().encode(TEST_JWT_SECRET))

  const expired = await good(user, { expiresInS: -120 }) // beyond the clock tolerance (≤ 30 s)
  const wrongIss = await good(user, { issuer: 'https://evil.test' })
  const wrongAud = await good(user, { audience: 'someone-else' })
  const noIssAud = await signUserToken(user)
  const valid = await good(user)

  const cases: Array<[string, () => Promise<unknown>, number]> = [
    ['no token', () => openSocket(gw), 401],
    ['alg none', () => openSocket(gw, { token: unsigned }), 401],
    ['wrong key', () => openSocket(gw, { token: wrongKey }), 401],
    ['expired', () => openSocket(gw, { token: expired }), 401],
    ['wrong iss', () => openSocket(gw, { token: wrongIss }), 401],
    ['wrong aud', () => openSocket(gw, { token: wrongAud }), 401],
    ['no iss/aud', () => openSocket(gw, { token: noIssAud }), 401],
    ['missing sub', () => openSocket(gw, { token: noSub }), 401],
    ['missing exp', () => openSocket(gw, { token: noExp }), 401],
    ['alg none via subprotocol', () => openSocket(gw, { token: unsigned, via: 'subprotocol' }), 401],
    ['foreign Origin', () => openSocket(gw, { token: valid, origin: 'https://evil.test' }), 403],
    // the Origin is checked first: a foreign page learns nothing about the token
    [
      'foreign Origin, bad token',
      () => openSocket(gw, { token: wrongKey, origin: 'https://evil.test' }),
      403,
    ],
  ]
  for (const [what, attempt, status] of cases) {
    const r = await refusal(attempt())
    assert.equal(r.status, status, `${what}: ${r.body}`)
  }
})

test('oversized, binary and non-JSON frames get 1009, 1003 and 1007', async () => {
  const user = newUserId('frames')
  const cases: Array<[string, (s: Awaited<ReturnType<typeof connectUser>>) => void, number]> = [
    ['over 16 KiB', (s) => s.send(JSON.stringify({ type: 'ping', pad: 'x'.repeat(17 * 1024) })), 1009],
    ['binary', (s) => s.ws.send(Buffer.from('{"type":"ping"}'), { binary: true }), 1003],
    ['not JSON', (s) => s.send('this is not json'), 1007],
  ]
  for (const [what, misbehave, code] of cases) {
    const s = await connectUser(gw, user, { token: await good(user) })
    misbehave(s)
    const closed = await s.closed
    assert.equal(closed.code, code, what)
  }
})

test('a session over the per-user limit is closed 4029; ping gets pong', async () => {
  const user = newUserId('limit')
  const a = await connectUser(gw, user, { token: await good(user) })
  const b = await connectUser(gw, user, { token: await good(user) })
  try {
    const c = await openSocket(gw, { token: await good(user) })
    assert.equal((await c.closed).code, 4029)
    a.send({ type: 'ping' })
    await a.next('pong')
  } finally {
    await Promise.all([a.close(), b.close()])
  }
})
