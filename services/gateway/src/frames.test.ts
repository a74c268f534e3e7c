import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { uniqueName, waitFor } from '@tidings/test/infra'
import { signUserToken } from '@tidings/test/support/tokens'
import { openSocket } from '@tidings/test/support/ws-client'
import { startTestGateway, type TestGateway } from './testing/test-gateway.ts'

describe('inbound frames and limits', () => {
  let gw: TestGateway
  before(async () => {
    gw = await startTestGateway({
      MAX_SESSIONS_PER_USER: '2',
      MAX_VIOLATIONS: '2',
      RATE_LIMIT_PER_SECOND: '5',
      RATE_LIMIT_BURST: '10',
    })
  })
  after(() => gw.stop())

  const open = async (userId = uniqueName('u'), topics?: string[]) => {
    const s = await openSocket(gw.url, { token: await signUserToken(userId, { topics }) })
    await s.next('welcome')
    return s
  }

  test('ping → pong', async () => {
    const s = await open()
    s.send({ type: 'ping' })
    assert.deepEqual(await s.next('pong'), { type: 'pong' })
    await s.close()
  })

  test('a binary frame → close 1003', async () => {
    const s = await open()
    s.ws.send(Buffer.from([1, 2, 3]), { binary: true })
    assert.equal((await s.closed).code, 1003)
  })

  test('a frame that is not JSON → close 1007', async () => {
    const s = await open()
    s.send('{not json')
    assert.equal((await s.closed).code, 1007)
  })

  test('a frame over 16 KiB → close 1009', async () => {
    const s = await open()
    s.send({ type: 'ping', pad: 'x'.repeat(17 * 1024) })
    assert.equal((await s.closed).code, 1009)
  })

  test('unknown types and bad requests get error frames; repeated violations → close 1008', async () => {
    const s = await open()
    s.send({ type: 'teleport' })
    const e1 = await s.next('error')
    assert.equal(e1.code, 'unknown_type')
    s.send({ type: 'ack', seq: 'seven' })
    const e2 = await s.next('error')
    assert.equal(e2.code, 'bad_request')
    s.send({ type: 'ack' })
    assert.equal((await s.closed).code, 1008)
  })

  test('flooding frames → close 4008', async () => {
    const s = await open()
    for (let i = 0; i < 40; i++) s.send({ type: 'ping' })
    assert.equal((await s.closed).code, 4008)
  })

  test('the session limit per user → the next session gets close 4029', async () => {
    const user = uniqueName('u')
    const a = await open(user)
    const b = await open(user)
    const c = await openSocket(gw.url, { token: await signUserToken(user) })
    assert.equal((await c.closed).code, 4029)
    await a.close()
    // a freed slot can be used again
    const d = await openSocket(gw.url, { token: await signUserToken(user) })
    await d.next('welcome')
    await Promise.all([b.close(), d.close()])
  })

  test('topics: allowed ones are joined and receive broadcasts, others are forbidden', async () => {
    const topic = uniqueName('news')
    const s = await open(uniqueName('u'), [topic])
    const outsider = await open(uniqueName('u'))
    s.send({ type: 'subscribe', topic })
    assert.deepEqual(await s.next('subscribed'), { type: 'subscribed', topic })
    outsider.send({ type: 'subscribe', topic })
    assert.equal((await outsider.next('error')).code, 'forbidden_topic')
    assert.equal(
      await gw.store.publishToTopic(topic, 'b-1', {
        id: 'b-1',
        kind: 'announce',
        createdAt: new Date().toISOString(),
        title: 'Hello',
        body: 'all',
        data: {},
      }),
      'published',
    )
    const b = await s.next('broadcast')
    assert.equal(b.topic, topic)
    assert.equal(b.title, 'Hello')
    // the same event id again is a duplicate, not a second broadcast
    assert.equal(
      await gw.store.publishToTopic(topic, 'b-1', {
        id: 'b-1',
        kind: 'announce',
        createdAt: new Date().toISOString(),
        title: 'Hello',
        body: 'all',
        data: {},
      }),
      'duplicate',
    )
    s.send({ type: 'unsubscribe', topic })
    assert.deepEqual(await s.next('unsubscribed'), { type: 'unsubscribed', topic })
    assert.equal(
      outsider.frames.some((f) => f.type === 'broadcast'),
      false,
    )
    await Promise.all([s.close(), outsider.close()])
  })
})

describe('token lifetime, heartbeat and drain', () => {
  test('reauth before expiry; a fresh auth extends it; a token of another user → 4001', async () => {
    const gw = await startTestGateway({ REAUTH_WARNING_MS: '60000' })
    try {
      const user = uniqueName('u')
      const s = await openSocket(gw.url, { token: await signUserToken(user, { expiresInS: 30 }) })
      await s.next('welcome')
      const reauth = await s.next('reauth')
      assert.ok(Date.parse(reauth.expiresAt) > Date.now())
      s.send({ type: 'auth', token: await signUserToken(user, { expiresInS: 3600 }) })
      const ok = await s.next('authenticated')
      assert.ok(Date.parse(ok.expiresAt) > Date.now() + 3000_000)
      s.send({ type: 'auth', token: await signUserToken(uniqueName('someone-else')) })
      assert.equal((await s.closed).code, 4001)
    } finally {
      await gw.stop()
    }
  })

  test('a token that expires without a fresh auth → close 4001 after the grace', async () => {
    const gw = await startTestGateway({ REAUTH_WARNING_MS: '1000', EXPIRY_GRACE_MS: '0' })
    try {
      const s = await openSocket(gw.url, { token: await signUserToken(uniqueName('u'), { expiresInS: 2 }) })
      await s.next('welcome')
      await s.next('reauth')
      const closed = await s.closed
      assert.equal(closed.code, 4001)
    } finally {
      await gw.stop()
    }
  })

  test('a socket that stops answering pings is terminated and its subscription released', async () => {
    const gw = await startTestGateway({ HEARTBEAT_MS: '1000' })
    try {
      const user = uniqueName('u')
      const s = await openSocket(gw.url, { token: await signUserToken(user), autoPong: false })
      await s.next('welcome')
      assert.equal(gw.gateway.pod.router.channelCount, 1)
      const closed = await s.closed
      assert.equal(closed.code, 1006) // terminated: no close frame
      await waitFor(() => gw.gateway.pod.router.channelCount === 0, { message: 'channel released' })
      assert.equal(gw.gateway.pod.sessions.size, 0)
    } finally {
      await gw.stop()
    }
  })

  test('graceful drain: reconnect with a jittered afterMs, then 1012; readiness goes false', async () => {
    const gw = await startTestGateway({ DRAIN_MS: '300', RECONNECT_JITTER_MS: '2000' })
    const sockets = await Promise.all(
      Array.from({ length: 5 }, async () => {
        const s = await openSocket(gw.url, { token: await signUserToken(uniqueName('u')) })
        await s.next('welcome')
        return s
      }),
    )
    const url = gw.url
    const stopping = gw.stop()
    await waitFor(async () => (await fetch(`${url}/readyz`).catch(() => ({ status: 0 }))).status !== 200, {
      message: 'not ready',
    })
    for (const s of sockets) {
      const r = await s.next('reconnect')
      assert.ok(r.afterMs >= 0 && r.afterMs < 2000)
      assert.equal((await s.closed).code, 1012)
    }
    await stopping
  })
})
