import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import type { InboxResponse } from '@tidings/contracts'
import { createRedisConnection, createRevocationStore } from '@tidings/delivery'
import { infraFromEnv, uniqueName } from '@tidings/test/infra'
import { rawUpgrade } from '@tidings/test/support/raw-ws'
import { openSse } from '@tidings/test/support/sse-client'
import { signUserToken } from '@tidings/test/support/tokens'
import { openSocket } from '@tidings/test/support/ws-client'
import { notification, startTestGateway, type TestGateway } from './testing/test-gateway.ts'

// Two pods on the same Redis: the limits are per user and per IP across pods. Each test
// uses its own user and its own client IP (X-Forwarded-For through one trusted hop), so the
// counters of other tests running against the same Redis never mix in.
describe('rate limits across pods, and inbox paging', () => {
  let a: TestGateway
  let b: TestGateway
  const env = {
    TRUST_PROXY_HOPS: '1',
    HTTP_RATE_PER_USER: '4',
    HTTP_RATE_PER_IP: '6',
    CONNECT_RATE_PER_USER: '3',
    CONNECT_RATE_PER_IP: '5',
    MAX_SESSIONS_PER_USER: '100',
  }
  before(async () => {
    ;[a, b] = await Promise.all([startTestGateway(env), startTestGateway(env)])
  })
  after(() => Promise.all([a.stop(), b.stop()]))

  let ipCounter = 0
  const freshIp = () => `198.51.${Math.floor(Math.random() * 200)}.${(ipCounter++ % 250) + 1}`
  const headers = async (user: string, ip: string) => ({
    authorization: `Bearer ${await signUserToken(user)}`,
    'x-forwarded-for': ip,
  })

  async function expect429(res: Response): Promise<void> {
    assert.equal(res.status, 429)
    assert.equal(((await res.json()) as { code: string }).code, 'TDG_ERR_RATE_LIMITED')
    const retry = Number(res.headers.get('retry-after'))
    assert.ok(retry >= 1 && retry <= 60, `Retry-After ${retry}`)
  }

  test('/v1/inbox and /v1/inbox/ack: per user, counted on every pod', async () => {
    const user = uniqueName('u')
    const ip = freshIp()
    for (const gw of [a, b, a])
      assert.equal((await fetch(`${gw.url}/v1/inbox`, { headers: await headers(user, ip) })).status, 200)
    const ack = await fetch(`${b.url}/v1/inbox/ack`, {
      method: 'POST',
      headers: { ...(await headers(user, ip)), 'content-type': 'application/json' },
      body: JSON.stringify({ seq: 0 }),
    })
    assert.equal(ack.status, 204)
    await expect429(await fetch(`${b.url}/v1/inbox`, { headers: await headers(user, ip) }))
    // another user from another IP is not affected
    assert.equal(
      (await fetch(`${a.url}/v1/inbox`, { headers: await headers(uniqueName('u'), freshIp()) })).status,
      200,
    )
  })

  test('per IP: many users from one address, before the token is even checked', async () => {
    const ip = freshIp()
    for (let i = 0; i < 6; i++) {
      const gw = i % 2 ? a : b
      assert.equal(
        (await fetch(`${gw.url}/v1/inbox`, { headers: await headers(uniqueName('u'), ip) })).status,
        200,
      )
    }
    await expect429(await fetch(`${a.url}/v1/inbox`, { headers: { 'x-forwarded-for': ip } }))
  })

  test('reconnects: WebSocket upgrades and SSE streams per user across pods → 429 before the upgrade', async () => {
    const user = uniqueName('u')
    const ip = freshIp()
    const opened = []
    const h = await headers(user, ip)
    const ws = async () => ({ token: await signUserToken(user), headers: { 'x-forwarded-for': ip } })
    opened.push(await openSocket(a.url, await ws()))
    const sse = await openSse(`${b.url}/v1/sse`, h)
    assert.equal(sse.status, 200)
    opened.push(await openSocket(b.url, await ws()))
    const refused = await openSocket(a.url, await ws()).then(
      () => assert.fail('upgraded past the limit'),
      (e: { status: number; body: string }) => e,
    )
    assert.equal(refused.status, 429)
    assert.equal(JSON.parse(refused.body).code, 'TDG_ERR_RATE_LIMITED')
    const sseRefused = await openSse(`${a.url}/v1/sse`, h)
    assert.equal(sseRefused.status, 429)
    sse.close()
    for (const s of opened) await s.close()
  })

  test('WebSocket upgrades per IP (X-Forwarded-For through the trusted hop): 429 with Retry-After, before the token', async () => {
    const ip = freshIp()
    const opened = []
    for (let i = 0; i < 5; i++) {
      const gw = i % 2 ? a : b
      const s = await openSocket(gw.url, {
        token: await signUserToken(uniqueName('u')),
        headers: { 'x-forwarded-for': ip },
      })
      await s.next('welcome')
      opened.push(s)
    }
    // no token at all: the IP's limit answers first, with the same body and header as on HTTP
    const refused = await rawUpgrade(a.url, '/v1/ws', { 'x-forwarded-for': ip })
    assert.equal(refused.status, 429, refused.response)
    assert.match(refused.response, /"code":"TDG_ERR_RATE_LIMITED"/)
    const retry = Number(/^retry-after: (\d+)$/im.exec(refused.response)?.[1])
    assert.ok(retry >= 1 && retry <= 60, refused.response)
    await refused.ended
    // the address is the forwarded one: another client behind the same proxy is not limited
    const other = await openSocket(a.url, {
      token: await signUserToken(uniqueName('u')),
      headers: { 'x-forwarded-for': freshIp() },
    })
    await other.next('welcome')
    opened.push(other)
    for (const s of opened) await s.close()
  })

  test('requests refused as revoked do not count against the user: a new login is not rate-limited', async () => {
    const user = uniqueName('u')
    const redis = createRedisConnection({ url: infraFromEnv().redisUrl }, { name: 'limits-test' })
    try {
      await createRevocationStore(redis, { ttlSeconds: 60 }).revoke(user)
    } finally {
      redis.disconnect()
    }
    // an old device retrying with its revoked token, more often than HTTP_RATE_PER_USER (4)
    const old = await signUserToken(user, { issuedInS: -5 })
    for (let i = 0; i < 5; i++) {
      const res = await fetch(`${a.url}/v1/inbox`, {
        headers: { authorization: `Bearer ${old}`, 'x-forwarded-for': freshIp() },
      })
      assert.equal(res.status, 401)
    }
    const fresh = await signUserToken(user, { issuedInS: 2 })
    const res = await fetch(`${b.url}/v1/inbox`, {
      headers: { authorization: `Bearer ${fresh}`, 'x-forwarded-for': freshIp() },
    })
    assert.equal(res.status, 200)
  })

  test('GET /v1/inbox pages with ?afterSeq=&limit=; nextAfterSeq until the end', async () => {
    const user = uniqueName('u')
    for (let i = 0; i < 7; i++) await a.store.deliverToUser(user, uniqueName('p'), notification('p'))
    const ip = freshIp()
    const seqs: number[] = []
    let after: number | undefined = 0
    let epoch = ''
    let pages = 0
    while (after !== undefined) {
      const q = new URLSearchParams({ afterSeq: String(after), limit: '3', ...(epoch ? { epoch } : {}) })
      const res = await fetch(`${a.url}/v1/inbox?${q}`, { headers: await headers(user, ip) })
      assert.equal(res.status, 200)
      const page = (await res.json()) as InboxResponse
      epoch = page.epoch
      seqs.push(...page.notifications.map((n) => n.seq))
      after = page.nextAfterSeq
      pages++
    }
    assert.deepEqual(seqs, [1, 2, 3, 4, 5, 6, 7])
    assert.equal(pages, 3)
    for (const limit of ['0', '501', 'x']) {
      const res = await fetch(`${b.url}/v1/inbox?limit=${limit}`, {
        headers: await headers(uniqueName('u'), freshIp()),
      })
      assert.equal(res.status, 400)
    }
  })
})
