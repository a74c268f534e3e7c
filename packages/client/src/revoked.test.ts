// The SDK against real gateway processes when a backend revokes the user's sessions
// (POST /v1/users/:userId/revoke): over a WebSocket and over SSE, the client gets close 4003,
// stops (no reconnect with the revoked token), emits a typed `revoked` event, and connects again
// only when the app calls connect() with a token issued after the revocation.
import assert from 'node:assert/strict'
import { after, afterEach, before, test } from 'node:test'
import { type Stack, startStack } from '@tidings/test/e2e/stack'
import { newUserId } from '@tidings/test/e2e/users'
import { infraFromEnv, type RedisServer, startRedis, waitFor } from '@tidings/test/infra'
import { signUserToken } from '@tidings/test/support/tokens'
import { createTidingsClient, type StateEvent, type TidingsClient, type TokenReason } from './client.ts'
import type { TidingsError } from './errors.ts'
import type { WebSocketConstructor } from './websocket.ts'

const SERVICE_TOKEN = 'sdk-revoke-service-credential-0123456789'

let redis: RedisServer | undefined
let stack: Stack

before(async () => {
  redis = await startRedis()
  stack = await startStack({
    name: 'sdk-revoke',
    redisUrl: redis.url,
    kafkaBrokers: infraFromEnv().kafkaBrokers,
    gateways: 2,
    dispatcher: false,
    gatewayEnv: { SERVICE_TOKENS: SERVICE_TOKEN },
  })
})
afterEach((t) => stack?.check(t))
after(async () => {
  await stack?.stop()
  await redis?.stop()
})

/** A WebSocket that never reaches anything: the SDK falls back to SSE. */
const GlobalWebSocket = (globalThis as unknown as { WebSocket: WebSocketConstructor }).WebSocket
class DeadWebSocket extends (GlobalWebSocket as unknown as new (
  url: string,
  p?: string | string[],
) => object) {
  constructor(_url: string, protocols?: string | string[]) {
    super('ws://127.0.0.1:9/v1/ws', protocols)
  }
}

interface Probe {
  client: TidingsClient
  states: StateEvent[]
  revoked: TidingsError[]
  reasons: TokenReason[]
}

function probe(url: string, userId: string, transport: 'websocket' | 'sse'): Probe {
  const p: Probe = { states: [], revoked: [], reasons: [] } as unknown as Probe
  let next: Promise<string> | undefined
  p.client = createTidingsClient({
    url,
    getToken: ({ reason }) => {
      p.reasons.push(reason)
      // after a revocation the app signs the user in again: a token issued later
      if (reason !== 'rejected') return signUserToken(userId)
      next ??= signUserToken(userId, { issuedInS: 2 })
      return next
    },
    ...(transport === 'sse'
      ? {
          WebSocket: DeadWebSocket as unknown as WebSocketConstructor,
          sse: { afterFailures: 1, mode: 'fetch' },
        }
      : { sse: false }),
  })
  p.client.on('state', (s) => p.states.push(s))
  p.client.on('revoked', (e) => p.revoked.push(e))
  return p
}

test('a revocation stops the SDK on WebSocket and SSE, on every pod, with a typed event', async () => {
  const [gw1, gw2] = stack.gateways
  const user = newUserId()
  const ws = probe(gw1!.baseUrl, user, 'websocket')
  const sse = probe(gw2!.baseUrl, user, 'sse')
  await Promise.all([ws.client.connect(), sse.client.connect()])
  assert.equal(ws.states.at(-1)?.state, 'open')
  const last = sse.states.at(-1)
  assert.equal(last?.state === 'open' && last.transport, 'sse')

  const res = await fetch(`${gw1!.baseUrl}/v1/users/${user}/revoke`, {
    method: 'POST',
    headers: { authorization: `Bearer ${SERVICE_TOKEN}` },
  })
  assert.equal(res.status, 200)
  for (const p of [ws, sse]) {
    await waitFor(() => p.revoked.length === 1, { message: 'revoked event' })
    assert.equal(p.revoked[0]!.kind, 'revoked')
    assert.equal(p.revoked[0]!.closeCode, 4003)
    // stopped: closed, no `reconnecting` after the revocation
    assert.deepEqual(p.states.at(-1), { state: 'closed', reason: 'revoked' })
    assert.equal(p.client.state, 'closed')
  }

  // the app signs the user in again and reconnects: getToken is asked for a fresh token
  await ws.client.connect()
  assert.equal(ws.reasons.at(-1), 'rejected')
  assert.equal(ws.client.state, 'open')
  await Promise.all([ws.client.close(), sse.client.close()])
  assert.ok(!ws.states.some((s) => s.state === 'reconnecting'), JSON.stringify(ws.states))
})

test('revoked while offline: the next connection is refused, and the SDK still stops with `revoked`', async () => {
  const [gw1, gw2] = stack.gateways
  const user = newUserId()
  const stale = await signUserToken(user) // held by the app while the revocation happens elsewhere
  const res = await fetch(`${gw1!.baseUrl}/v1/users/${user}/revoke`, {
    method: 'POST',
    headers: { authorization: `Bearer ${SERVICE_TOKEN}` },
  })
  assert.equal(res.status, 200)
  // WebSocket only: the refused upgrades (HTTP 401 TDG_ERR_TOKEN_REVOKED) are 1006 to the SDK, so
  // it asks GET /v1/inbox why. SSE over fetch sees the 401 and its code itself.
  for (const p of [
    { url: gw1!.baseUrl, options: { sse: false } as const },
    {
      url: gw2!.baseUrl,
      options: {
        WebSocket: DeadWebSocket as unknown as WebSocketConstructor,
        sse: { afterFailures: 1, mode: 'fetch' },
      } as const,
    },
  ]) {
    const states: StateEvent[] = []
    const revoked: TidingsError[] = []
    const client = createTidingsClient({
      url: p.url,
      getToken: () => stale,
      backoff: { baseMs: 50, capMs: 200 },
      ...p.options,
    })
    client.on('state', (s) => states.push(s))
    client.on('revoked', (e) => revoked.push(e))
    await assert.rejects(client.connect(), { kind: 'revoked' })
    assert.equal(revoked.length, 1)
    assert.equal(revoked[0]!.closeCode, 4003)
    assert.deepEqual(states.at(-1), { state: 'closed', reason: 'revoked' })
    assert.ok(!states.some((s) => s.state === 'open'), JSON.stringify(states))
    await client.close()
  }
})
