import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { freePorts, type RedisServer, startRedis, uniqueName } from '@tidings/test/infra'
import { signUserToken, TEST_JWT_SECRET } from '@tidings/test/support/tokens'
import { openSocket } from '@tidings/test/support/ws-client'
import { generateKeyPair, SignJWT } from 'jose'
import { startTestGateway, type TestGateway } from './testing/test-gateway.ts'

// Every refusal happens before the upgrade: the client sees an HTTP status, never an open socket.
describe('checks before the upgrade', () => {
  let gw: TestGateway
  before(async () => {
    gw = await startTestGateway({ JWT_ISSUER: 'https://id.tidings.test', JWT_AUDIENCE: 'tidings' })
  })
  after(() => gw.stop())

  const good = (userId: string, extra: { expiresInS?: number; issuer?: string; audience?: string } = {}) =>
    signUserToken(userId, { issuer: 'https://id.tidings.test', audience: 'tidings', ...extra })

  async function refused(p: Promise<unknown>): Promise<{ status: number; body: { code: string } }> {
    const err = (await p.then(
      () => assert.fail('the socket opened'),
      (e: unknown) => e,
    )) as { status: number; body: string }
    return { status: err.status, body: JSON.parse(err.body) }
  }

  test('a valid token in the Authorization header opens the socket and gets welcome', async () => {
    const user = uniqueName('u')
    const s = await openSocket(gw.url, { token: await good(user) })
    const w = await s.next('welcome')
    assert.equal(w.userId, user)
    assert.equal(w.protocol, 1)
    await s.close()
  })

  test('browsers: the bearer subprotocol works and the server selects only tidings.v1', async () => {
    const s = await openSocket(gw.url, {
      token: await good(uniqueName('u')),
      via: 'subprotocol',
      origin: 'https://app.tidings.test',
    })
    assert.equal(s.ws.protocol, 'tidings.v1')
    await s.next('welcome')
    await s.close()
  })

  test('no token → 401', async () => {
    const r = await refused(openSocket(gw.url))
    assert.equal(r.status, 401)
    assert.equal(r.body.code, 'TDG_ERR_TOKEN_MISSING')
  })

  test('alg none → 401', async () => {
    const enc = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url')
    const now = Math.floor(Date.now() / 1000)
    const token = `${enc({ alg: 'none', typ: 'JWT' })}.${enc({ sub: 'u-none', exp: now + 600, iss: 'https://id.tidings.test', aud: 'tidings' })}.`
    const r = await refused(openSocket(gw.url, { token }))
    assert.equal(r.status, 401)
  })

  test('a token signed with another key → 401', async () => {
    const token = await signUserToken('u-x', {
      secret: `${TEST_JWT_SECRET}-but-another`,
      issuer: 'https://id.tidings.test',
      audience: 'tidings',
    })
    assert.equal((await refused(openSocket(gw.url, { token }))).status, 401)
  })

  test('an expired token → 401 with the expired code', async () => {
    const r = await refused(openSocket(gw.url, { token: await good('u-old', { expiresInS: -120 }) }))
    assert.equal(r.status, 401)
    assert.equal(r.body.code, 'TDG_ERR_TOKEN_EXPIRED')
  })

  test('wrong issuer or audience → 401', async () => {
    assert.equal(
      (await refused(openSocket(gw.url, { token: await good('u-iss', { issuer: 'https://evil.test' }) })))
        .status,
      401,
    )
    assert.equal(
      (await refused(openSocket(gw.url, { token: await good('u-aud', { audience: 'other' }) }))).status,
      401,
    )
  })

  test('a token without sub → 401', async () => {
    const token = await new SignJWT({})
      .setProtectedHeader({ alg: 'HS256' })
      .setIssuer('https://id.tidings.test')
      .setAudience('tidings')
      .setExpirationTime('10m')
      .sign(new TextEncoder().encode(TEST_JWT_SECRET))
    assert.equal((await refused(openSocket(gw.url, { token }))).status, 401)
  })

  test('an absurd exp (after year 275760) or a lifetime over JWT_MAX_LIFETIME_S → 401, never a crash', async () => {
    for (const exp of [8.64e12 + 1, 1e20, Math.floor(Date.now() / 1000) + 2 * 86_400]) {
      const token = await new SignJWT({})
        .setProtectedHeader({ alg: 'HS256' })
        .setSubject(uniqueName('u'))
        .setIssuer('https://id.tidings.test')
        .setAudience('tidings')
        .setIssuedAt()
        .setExpirationTime(exp)
        .sign(new TextEncoder().encode(TEST_JWT_SECRET))
      const r = await refused(openSocket(gw.url, { token }))
      assert.equal(r.status, 401, String(exp))
      assert.equal(r.body.code, 'TDG_ERR_TOKEN_INVALID')
    }
    // the pod is fine
    const s = await openSocket(gw.url, { token: await good(uniqueName('u')) })
    await s.next('welcome')
    await s.close()
  })

  test('a foreign Origin → 403, checked before the token', async () => {
    const r = await refused(openSocket(gw.url, { origin: 'https://evil.example' }))
    assert.equal(r.status, 403)
    assert.equal(r.body.code, 'TDG_ERR_ORIGIN_FORBIDDEN')
  })

  test('a malformed resume point → 400', async () => {
    const r = await refused(openSocket(gw.url, { token: await good('u-q'), query: { lastSeq: '-3' } }))
    assert.equal(r.status, 400)
  })

  test('/healthz and /readyz answer 200', async () => {
    assert.equal((await fetch(`${gw.url}/healthz`)).status, 200)
    assert.equal((await fetch(`${gw.url}/readyz`)).status, 200)
    const metrics = await (await fetch(`${gw.url}/metrics`)).text()
    assert.match(metrics, /tidings_ws_refused_total\{reason="origin",service="gateway"\} [1-9]/)
  })
})

describe('a JWKS outage', () => {
  const logs: string[] = []
  let gw: TestGateway
  before(async () => {
    const [closedPort] = await freePorts(1)
    gw = await startTestGateway(
      {
        JWT_ALGORITHMS: 'ES256',
        JWT_SECRET: '',
        JWT_JWKS_URL: `http://127.0.0.1:${closedPort}/jwks`,
        LOG_LEVEL: 'info',
      },
      { logs },
    )
  })
  after(() => gw.stop())

  test('answers 503 TDG_ERR_AUTH_UNAVAILABLE (not 401), with one throttled log line', async () => {
    const es = await generateKeyPair('ES256')
    const token = await new SignJWT({})
      .setProtectedHeader({ alg: 'ES256', kid: 'k1' })
      .setSubject('u-jwks')
      .setIssuedAt()
      .setExpirationTime('10m')
      .sign(es.privateKey)
    for (let i = 0; i < 5; i++) {
      const err = (await openSocket(gw.url, { token }).then(
        () => assert.fail('the socket opened'),
        (e: unknown) => e,
      )) as { status: number; body: string }
      assert.equal(err.status, 503)
      assert.equal(JSON.parse(err.body).code, 'TDG_ERR_AUTH_UNAVAILABLE')
    }
    const lines = logs.filter((l) => l.includes('signing keys unavailable'))
    assert.equal(lines.length, 1, lines.join('\n'))
  })
})

describe('a Redis outage at the handshake', () => {
  const logs: string[] = []
  let gw: TestGateway
  let redis: RedisServer
  before(async () => {
    redis = await startRedis()
    gw = await startTestGateway({ REDIS_URL: redis.url, LOG_LEVEL: 'info' }, { logs })
  })
  after(async () => {
    await gw.stop()
    await redis.stop()
  })

  test('answers 503 TDG_ERR_TRY_AGAIN_LATER (the revocation cannot be checked), with one throttled log line', async () => {
    await redis.stop()
    const token = await signUserToken('u-redis-down')
    // several at once, as an outage brings them (each waits out ioredis's reconnect attempts)
    const refusals = await Promise.all(
      [1, 2, 3].map(() =>
        openSocket(gw.url, { token }).then(
          () => assert.fail('the socket opened'),
          (e: unknown) => e as { status: number; body: string },
        ),
      ),
    )
    for (const err of refusals) {
      assert.equal(err.status, 503)
      assert.equal(JSON.parse(err.body).code, 'TDG_ERR_TRY_AGAIN_LATER')
    }
    const lines = logs.filter((l) => l.includes('Redis unavailable: refusing handshakes'))
    assert.equal(lines.length, 1, lines.join('\n'))
  })
})
