// A WebSocket upgrade the gateway refuses (401 revoked or expired, 429, 503) reaches the SDK only as
// close 1006: after PROBE_AFTER_FAILURES in a row the client asks GET /v1/inbox?limit=1 why.
// Fake clock, sockets and fetch (no network).
import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { FetchLike, FetchResponseLike } from './sse.ts'
import { FakeClock, until } from './testing/fakes.ts'
import { setup } from './testing/harness.ts'
import type { CloseInfo } from './transport.ts'
import { createUpgradeProbe, PROBE_AFTER_FAILURES } from './upgrade-probe.ts'

const refused: CloseInfo = { code: 1006, reason: '', opened: false }
const answer =
  (status: number, code?: string): FetchLike =>
  async () => ({ ok: status < 300, status, body: null, json: async () => ({ statusCode: status, code }) })

test('probe: every PROBE_AFTER_FAILURES failed upgrades in a row while online; the refusal becomes its close code', async () => {
  const requests: Array<[string, string | undefined]> = []
  let next: FetchResponseLike = { ok: false, status: 401 }
  const fetch: FetchLike = async (url, init) => {
    requests.push([url, init.headers.authorization])
    return next
  }
  let online: boolean | undefined = true
  const network = { isOnline: () => online, subscribe: () => () => undefined }
  const probe = createUpgradeProbe(fetch, network, new FakeClock(), 15_000)
  const examine = (info = refused) => probe.examine(info, 'websocket', 'https://gw', 'jwt')
  assert.equal(PROBE_AFTER_FAILURES, 3)
  assert.equal(examine(), undefined)
  assert.equal(examine(), undefined)
  assert.deepEqual(await examine(), { code: 4001, reason: 'HTTP 401', opened: false })
  assert.deepEqual(requests, [['https://gw/v1/inbox?limit=1', 'Bearer jwt']])
  for (const [status, code, closeCode] of [
    [401, 'TDG_ERR_TOKEN_REVOKED', 4003],
    [401, 'TDG_ERR_TOKEN_EXPIRED', 4001],
    [429, 'TDG_ERR_RATE_LIMITED', 4008],
    [503, 'TDG_ERR_DRAINING', 1013],
    [200, undefined, 1006],
    [403, 'TDG_ERR_ORIGIN_FORBIDDEN', 1006],
  ] as const) {
    next = { ok: status === 200, status, json: async () => ({ statusCode: status, code }) }
    examine()
    examine()
    assert.equal((await examine())?.code, closeCode, `${status} ${code}`)
  }
  examine()
  examine({ ...refused, opened: true }) // a WebSocket opened: the count starts over
  examine()
  assert.equal(examine(), undefined)
  online = false // failures while offline do not count
  for (let i = 0; i < 5; i++) assert.equal(examine(), undefined)
  assert.equal(probe.examine(refused, 'sse', 'https://gw', 'jwt'), undefined, 'SSE sees statuses itself')
})

test('probe: no answer within the timeout, or a network error, leaves the close as it was', async () => {
  const clock = new FakeClock()
  const hung = createUpgradeProbe(() => new Promise(() => undefined), undefined, clock, 15_000)
  for (let i = 1; i < PROBE_AFTER_FAILURES; i++) hung.examine(refused, 'websocket', 'https://gw', 't')
  const pending = hung.examine(refused, 'websocket', 'https://gw', 't')
  await clock.advance(15_000)
  assert.deepEqual(await pending, refused)
  assert.deepEqual(clock.pending(), [])
  const offline = createUpgradeProbe(() => Promise.reject(new TypeError('fetch failed')), undefined, clock, 1)
  for (let i = 1; i < PROBE_AFTER_FAILURES; i++) offline.examine(refused, 'websocket', 'https://gw', 't')
  assert.deepEqual(await offline.examine(refused, 'websocket', 'https://gw', 't'), refused)
  assert.deepEqual(clock.pending(), [])
})

test('probe: the client stopping ends a probe in flight, its timer and its request with it', async () => {
  const clock = new FakeClock()
  let aborted = false
  const hung: FetchLike = (_url, init) =>
    new Promise(() => {
      init?.signal?.addEventListener?.('abort', () => {
        aborted = true
      })
    })
  const probe = createUpgradeProbe(hung, undefined, clock, 15_000)
  for (let i = 1; i < PROBE_AFTER_FAILURES; i++) probe.examine(refused, 'websocket', 'https://gw', 't')
  const pending = probe.examine(refused, 'websocket', 'https://gw', 't')
  assert.equal(clock.pending().length, 1)
  probe.cancel()
  assert.deepEqual(await pending, refused)
  assert.deepEqual(clock.pending(), [])
  assert.ok(aborted)
})

/** Fails PROBE_AFTER_FAILURES upgrades in a row, waiting out the backoff between them. */
async function failUpgrades(t: ReturnType<typeof setup>): Promise<void> {
  for (let i = 0; i < PROBE_AFTER_FAILURES; i++) {
    await until(() => t.ws.sockets.length === i + 1, `socket #${i}`)
    t.socket(i).fail()
    if (i === PROBE_AFTER_FAILURES - 1) return
    await until(() => t.client.state === 'reconnecting')
    const r = t.states.at(-1)
    await t.clock.advance(r?.state === 'reconnecting' ? r.delayMs : 0)
  }
}

test('revoked while offline: the refused upgrades end in `revoked`, and the client stops', async () => {
  const revoked: unknown[] = []
  const t = setup({ fetch: answer(401, 'TDG_ERR_TOKEN_REVOKED') })
  t.client.on('revoked', (e) => revoked.push(e))
  const connecting = t.client.connect()
  await failUpgrades(t)
  await until(() => revoked.length === 1, 'revoked event')
  assert.deepEqual(t.states.at(-1), { state: 'closed', reason: 'revoked' })
  await assert.rejects(connecting, { kind: 'revoked' })
  await t.clock.advance(600_000)
  assert.equal(t.ws.sockets.length, PROBE_AFTER_FAILURES, 'no reconnect with the revoked token')
  assert.deepEqual(t.clock.pending(), [])
})

test('an expired token at the upgrade: a fresh one at once; 429/503: the longer backoff', async () => {
  {
    const t = setup({ fetch: answer(401, 'TDG_ERR_TOKEN_EXPIRED') })
    void t.client.connect()
    await failUpgrades(t)
    await until(() => t.client.state === 'reconnecting')
    await t.clock.advance(0)
    await until(() => t.ws.sockets.length === PROBE_AFTER_FAILURES + 1, 'reconnect at once')
    assert.deepEqual(t.tokens.slice(-1), ['rejected'])
    const r = t.states.filter((s) => s.state === 'reconnecting').at(-1)
    assert.ok(r?.state === 'reconnecting' && r.code === 4001 && r.delayMs === 0, JSON.stringify(r))
    assert.equal(r.reason, 'websocket: HTTP 401 TDG_ERR_TOKEN_EXPIRED')
    await t.client.close()
  }
  for (const [status, code] of [
    [429, 4008],
    [503, 1013],
  ] as const) {
    const t = setup({ fetch: answer(status) })
    void t.client.connect()
    await failUpgrades(t)
    await until(() => t.client.state === 'reconnecting')
    const r = t.states.at(-1)
    assert.ok(r?.state === 'reconnecting' && r.code === code, JSON.stringify(r))
    assert.ok(r.delayMs >= 2_500, `slow backoff, got ${r.delayMs}`)
    await t.client.close()
  }
})
