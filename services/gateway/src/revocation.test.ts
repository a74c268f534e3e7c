import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { CloseCode } from '@tidings/contracts'
import { userRevokedKey } from '@tidings/delivery'
import { infraFromEnv, uniqueName } from '@tidings/test/infra'
import { openSse } from '@tidings/test/support/sse-client'
import { signUserToken } from '@tidings/test/support/tokens'
import { openSocket } from '@tidings/test/support/ws-client'
import { Redis } from 'ioredis'
import { notification, startTestGateway, type TestGateway } from './testing/test-gateway.ts'

const SERVICE_TOKEN = 'svc-revoker-0123456789abcdefghij'

describe('revoking a user’s sessions on every pod', () => {
  let a: TestGateway
  let b: TestGateway
  before(async () => {
    const env = { SERVICE_TOKENS: SERVICE_TOKEN }
    ;[a, b] = await Promise.all([startTestGateway(env), startTestGateway(env)])
  })
  after(() => Promise.all([a.stop(), b.stop()]))

  const revoke = (gw: TestGateway, userId: string, token = SERVICE_TOKEN) =>
    fetch(`${gw.url}/v1/users/${userId}/revoke`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}` },
    })

  test('WebSocket and SSE sessions on both pods end with 4003; the old token is refused after', async () => {
    const user = uniqueName('u')
    const other = uniqueName('u')
    const token = await signUserToken(user)
    const wsA = await openSocket(a.url, { token })
    const wsB = await openSocket(b.url, { token })
    const sse = await openSse(`${b.url}/v1/sse`, { authorization: `Bearer ${token}` })
    const bystander = await openSocket(a.url, { token: await signUserToken(other) })
    for (const s of [wsA, wsB, bystander]) await s.next('welcome')
    await sse.next('welcome')

    const res = await revoke(a, user)
    assert.equal(res.status, 200)
    assert.ok(Date.parse(((await res.json()) as { revokedAt: string }).revokedAt) > 0)
    assert.equal((await wsA.closed).code, CloseCode.Revoked)
    assert.equal((await wsB.closed).code, CloseCode.Revoked)
    await sse.ended
    // the revocation is for this user only
    await a.store.deliverToUser(other, uniqueName('n'), notification('still here'))
    assert.equal((await bystander.next('notification')).title, 'title still here')
    await bystander.close()

    // reconnecting with the old token: 401 TDG_ERR_TOKEN_REVOKED, on WebSocket, SSE and REST
    for (const gw of [a, b]) {
      const refused = await openSocket(gw.url, { token }).then(
        () => assert.fail('the old token still connects'),
        (e: { status: number; body: string }) => e,
      )
      assert.equal(refused.status, 401)
      assert.equal(JSON.parse(refused.body).code, 'TDG_ERR_TOKEN_REVOKED')
    }
    assert.equal((await openSse(`${a.url}/v1/sse`, { authorization: `Bearer ${token}` })).status, 401)
    assert.equal(
      (await fetch(`${b.url}/v1/inbox`, { headers: { authorization: `Bearer ${token}` } })).status,
      401,
    )

    // a token issued after the revocation (a new login) works
    const fresh = await openSocket(b.url, { token: await signUserToken(user, { issuedInS: 2 }) })
    await fresh.next('welcome')
    await fresh.close()
  })

  test('a revocation whose message was lost while the pod’s subscriber was down still ends the session', async (t) => {
    const user = uniqueName('u')
    const ws = await openSocket(a.url, { token: await signUserToken(user) })
    await ws.next('welcome')
    const redis = new Redis(infraFromEnv().redisUrl)
    t.after(() => redis.quit())
    // the record a revocation leaves, without its pub/sub message (lost: pub/sub is at-most-once)
    await redis.set(userRevokedKey(user), Date.now() + 1000, 'EX', 600)
    // the pod's pub/sub connection drops; it re-subscribes and re-reads what it may have missed
    a.subscriber.disconnect(true)
    assert.equal((await ws.closed).code, CloseCode.Revoked)
  })

  test('an `auth` frame with a revoked token ends the session with 4003', async () => {
    const user = uniqueName('u')
    const old = await signUserToken(user)
    await revoke(b, user)
    const s = await openSocket(a.url, { token: await signUserToken(user, { issuedInS: 2 }) })
    await s.next('welcome')
    s.send({ type: 'auth', token: old })
    assert.equal((await s.closed).code, CloseCode.Revoked)
  })

  test('only with a service credential, for a valid user id', async () => {
    assert.equal((await revoke(a, uniqueName('u'), 'not-a-service-token-0123456789')).status, 401)
    assert.equal((await fetch(`${a.url}/v1/users/x/revoke`, { method: 'POST' })).status, 401)
    assert.equal((await revoke(a, 'bad{id}')).status, 400)
  })
})
