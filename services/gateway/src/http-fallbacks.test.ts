import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import type { InboxResponse } from '@tidings/contracts'
import { uniqueName, waitFor } from '@tidings/test/infra'
import { openSse } from '@tidings/test/support/sse-client'
import { signUserToken } from '@tidings/test/support/tokens'
import { openSocket } from '@tidings/test/support/ws-client'
import { notification, startTestGateway, type TestGateway } from './testing/test-gateway.ts'

const SERVICE_TOKEN = 'svc-presence-reader-0123456789abcdef'

describe('SSE, REST inbox and presence', () => {
  let gw: TestGateway
  before(async () => {
    gw = await startTestGateway({ SERVICE_TOKENS: SERVICE_TOKEN, MAX_SESSIONS_PER_USER: '3' })
  })
  after(() => gw.stop())

  const deliver = async (user: string, n: number, label = 'x') => {
    for (let i = 0; i < n; i++) await gw.store.deliverToUser(user, uniqueName(label), notification(label))
  }
  const bearer = (token: string) => ({ authorization: `Bearer ${token}` })

  test('SSE: welcome, replay with id epoch:seq, then live; Last-Event-ID resumes', async () => {
    const user = uniqueName('u')
    const token = await signUserToken(user)
    await deliver(user, 2, 'offline')
    const sse = await openSse(`${gw.url}/v1/sse`, bearer(token))
    assert.equal(sse.status, 200)
    const welcome = JSON.parse((await sse.next('welcome')).data)
    const first = await sse.next('notification')
    assert.equal(first.id, `${welcome.epoch}:1`)
    assert.equal(JSON.parse(first.data).title, 'title offline')
    await sse.next('notification')
    await deliver(user, 1, 'live')
    const live = await sse.next('notification')
    assert.equal(live.id, `${welcome.epoch}:3`)
    assert.equal(JSON.parse(live.data).seq, 3)
    sse.close()
    await deliver(user, 1, 'later')
    const resumed = await openSse(`${gw.url}/v1/sse`, { ...bearer(token), 'last-event-id': live.id! })
    await resumed.next('welcome')
    const next = await resumed.next('notification')
    assert.equal(JSON.parse(next.data).seq, 4)
    assert.equal(resumed.events.filter((e) => e.event === 'notification').length, 1)
    resumed.close()
  })

  test('SSE: ?access_token= for EventSource; no token → 401 before any stream', async () => {
    const user = uniqueName('u')
    const ok = await openSse(`${gw.url}/v1/sse?access_token=${await signUserToken(user)}`)
    assert.equal(ok.status, 200)
    await ok.next('welcome')
    ok.close()
    const refused = await openSse(`${gw.url}/v1/sse`)
    assert.equal(refused.status, 401)
  })

  test('REST: GET /v1/inbox returns the buffered notifications; POST /v1/inbox/ack trims them', async () => {
    const user = uniqueName('u')
    const token = await signUserToken(user)
    await deliver(user, 3)
    const all = (await (
      await fetch(`${gw.url}/v1/inbox`, { headers: bearer(token) })
    ).json()) as InboxResponse
    assert.deepEqual(
      all.notifications.map((n: { seq: number }) => n.seq),
      [1, 2, 3],
    )
    assert.equal((all.notifications[0] as { type?: string }).type, undefined)
    assert.equal(all.notifications[0]!.title, 'title x')
    assert.equal(all.missed, undefined)
    const after1 = (await (
      await fetch(`${gw.url}/v1/inbox?afterSeq=1`, { headers: bearer(token) })
    ).json()) as InboxResponse
    assert.deepEqual(
      after1.notifications.map((n: { seq: number }) => n.seq),
      [2, 3],
    )
    const ack = await fetch(`${gw.url}/v1/inbox/ack`, {
      method: 'POST',
      headers: { ...bearer(token), 'content-type': 'application/json' },
      body: JSON.stringify({ seq: 2, epoch: all.epoch }),
    })
    assert.equal(ack.status, 204)
    const rest = (await (
      await fetch(`${gw.url}/v1/inbox`, { headers: bearer(token) })
    ).json()) as InboxResponse
    assert.deepEqual(
      rest.notifications.map((n: { seq: number }) => n.seq),
      [3],
    )
    const bad = await fetch(`${gw.url}/v1/inbox/ack`, {
      method: 'POST',
      headers: { ...bearer(token), 'content-type': 'application/json' },
      body: JSON.stringify({ seq: -1 }),
    })
    assert.equal(bad.status, 400)
    assert.equal((await fetch(`${gw.url}/v1/inbox`)).status, 401)
    // no token: 401 before the body is even looked at
    const anon = await fetch(`${gw.url}/v1/inbox/ack`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"seq":"x"}',
    })
    assert.equal(anon.status, 401)
    assert.equal(((await bad.json()) as { code: string }).code, 'TDG_ERR_BAD_REQUEST')
    const missing = await fetch(`${gw.url}/v1/nope`)
    assert.deepEqual(await missing.json(), {
      statusCode: 404,
      code: 'TDG_ERR_NOT_FOUND',
      message: 'No such endpoint',
    })
  })

  test('presence: a service credential sees sessions come and go; user tokens are refused', async () => {
    const user = uniqueName('u')
    const presence = async () =>
      (await (await fetch(`${gw.url}/v1/presence/${user}`, { headers: bearer(SERVICE_TOKEN) })).json()) as {
        online: boolean
        sessions: number
      }
    assert.deepEqual(await presence(), { online: false, sessions: 0 })
    const token = await signUserToken(user)
    const a = await openSocket(gw.url, { token })
    await a.next('welcome')
    const sse = await openSse(`${gw.url}/v1/sse`, bearer(token))
    await sse.next('welcome')
    assert.deepEqual(await presence(), { online: true, sessions: 2 })
    await a.close()
    sse.close()
    await waitFor(async () => (await presence()).sessions === 0, { message: 'sessions gone' })
    assert.equal((await fetch(`${gw.url}/v1/presence/${user}`, { headers: bearer(token) })).status, 401)
    assert.equal((await fetch(`${gw.url}/v1/presence/${user}`)).status, 401)
  })

  test('SSE over the session limit is refused with 429 before any stream', async () => {
    const user = uniqueName('u')
    const token = await signUserToken(user)
    const open = await Promise.all([1, 2, 3].map(() => openSse(`${gw.url}/v1/sse`, bearer(token))))
    await Promise.all(open.map((s) => s.next('welcome')))
    const refused = await fetch(`${gw.url}/v1/sse`, { headers: bearer(token) })
    assert.equal(refused.status, 429)
    assert.deepEqual(await refused.json(), {
      statusCode: 429,
      code: 'TDG_ERR_TOO_MANY_SESSIONS',
      message: 'Too many sessions for this user',
    })
    for (const s of open) s.close()
  })

  test('SSE: a draining gateway sends reconnect before ending the stream', async () => {
    const own = await startTestGateway({ DRAIN_MS: '50', RECONNECT_JITTER_MS: '500' })
    const sse = await openSse(`${own.url}/v1/sse`, bearer(await signUserToken(uniqueName('u'))))
    await sse.next('welcome')
    const stopping = own.stop()
    const reconnect = JSON.parse((await sse.next('reconnect')).data)
    assert.ok(reconnect.afterMs >= 0 && reconnect.afterMs < 500)
    await sse.ended
    await stopping
  })

  test('SSE: the keep-alive is a pong event an EventSource sees (not a comment), each heartbeat', async () => {
    const own = await startTestGateway({ HEARTBEAT_MS: '1000' })
    try {
      const sse = await openSse(`${own.url}/v1/sse`, bearer(await signUserToken(uniqueName('u'))))
      await sse.next('welcome')
      for (let i = 0; i < 2; i++)
        assert.deepEqual(JSON.parse((await sse.next('pong', 10_000)).data), { type: 'pong' })
      sse.close()
    } finally {
      await own.stop()
    }
  })

  test('CORS: a refusal of /v1/sse decided after the token check carries the headers too (429 here)', async () => {
    const user = uniqueName('u')
    const token = await signUserToken(user)
    const sockets = []
    for (let i = 0; i < 3; i++) {
      const s = await openSocket(gw.url, { token })
      await s.next('welcome')
      sockets.push(s)
    }
    const origin = 'https://app.tidings.test'
    const res = await fetch(`${gw.url}/v1/sse`, { headers: { origin, ...bearer(token) } })
    const body = await res.text()
    assert.equal(res.status, 429, body)
    assert.equal(res.headers.get('access-control-allow-origin'), origin)
    for (const s of sockets) await s.close()
  })

  test('CORS: an allowed origin may call the inbox cross-origin, another may not', async () => {
    const pre = await fetch(`${gw.url}/v1/inbox`, {
      method: 'OPTIONS',
      headers: {
        origin: 'https://app.tidings.test',
        'access-control-request-method': 'GET',
        'access-control-request-headers': 'authorization',
      },
    })
    assert.equal(pre.headers.get('access-control-allow-origin'), 'https://app.tidings.test')
    const evil = await fetch(`${gw.url}/v1/inbox`, { headers: { origin: 'https://evil.example' } })
    assert.equal(evil.status, 403)
  })
})
