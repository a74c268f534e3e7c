// Presence across pods, as a backend service sees it: sessions are recorded in Redis with a TTL
// that each pod refreshes on its heartbeat, so the sessions of a pod that is SIGKILLed (no chance
// to clean up) vanish by themselves, and its users' slots under the session limit come back.
import assert from 'node:assert/strict'
import { after, afterEach, before, test } from 'node:test'
import { userPresenceKey } from '@tidings/delivery'
import { Redis } from 'ioredis'
import { infraFromEnv, type RedisServer, startRedis, waitFor } from '../infra/index.ts'
import { openSse } from '../support/sse-client.ts'
import { signUserToken } from '../support/tokens.ts'
import { type Stack, startStack } from './stack.ts'
import { connectUser, newUserId } from './users.ts'

const SERVICE_TOKEN = 'e2e-presence-service-credential-0123456789'
const HEARTBEAT_MS = 1000 // presence entries live 2.5 heartbeats without a refresh

let redisServer: RedisServer
let redis: Redis
let stack: Stack

before(async () => {
  redisServer = await startRedis()
  redis = new Redis(redisServer.url, { maxRetriesPerRequest: 1 })
  stack = await startStack({
    name: 'e2e-presence',
    redisUrl: redisServer.url,
    kafkaBrokers: infraFromEnv().kafkaBrokers,
    gateways: 2,
    dispatcher: false,
    gatewayEnv: {
      SERVICE_TOKENS: SERVICE_TOKEN,
      HEARTBEAT_MS: String(HEARTBEAT_MS),
      MAX_SESSIONS_PER_USER: '2',
    },
  })
})

afterEach((t) => stack?.check(t))

after(async () => {
  await stack?.stop()
  redis?.disconnect()
  await redisServer?.stop()
})

async function presence(baseUrl: string, userId: string): Promise<{ online: boolean; sessions: number }> {
  const res = await fetch(`${baseUrl}/v1/presence/${userId}`, {
    headers: { authorization: `Bearer ${SERVICE_TOKEN}` },
  })
  assert.equal(res.status, 200)
  return (await res.json()) as { online: boolean; sessions: number }
}

test('a SIGKILLed pod’s sessions expire from presence; the survivor’s stay', async (t) => {
  const [gw1, gw2] = stack.gateways as [Stack['gateways'][number], Stack['gateways'][number]]
  const user = newUserId('presence')
  const token = await signUserToken(user)
  const onDoomedPod = await connectUser(gw1.baseUrl, user, { token })
  const sse = await openSse(`${gw2.baseUrl}/v1/sse`, { authorization: `Bearer ${token}` })
  await sse.next('welcome')
  // asked on either pod: presence lives in Redis, not in the pod
  assert.deepEqual(await presence(gw2.baseUrl, user), { online: true, sessions: 2 })
  assert.deepEqual(await presence(gw1.baseUrl, user), { online: true, sessions: 2 })
  // the session limit (2) is reached: a third session is refused
  const third = await connectUser(gw2.baseUrl, user, { token }).catch((e: unknown) => e)
  assert.ok(third instanceof Error, 'the third session must not get a welcome')
  const killedAt = Date.now()
  await gw1.kill()
  await onDoomedPod.closed
  const gone = await waitFor(
    async () => ((await presence(gw2.baseUrl, user)).sessions === 1 ? Date.now() : 0),
    {
      timeoutMs: 15_000,
      message: 'the killed pod’s session expired from presence',
    },
  )
  t.diagnostic(
    `presence forgot the SIGKILLed pod’s session after ${gone - killedAt} ms (TTL ${2.5 * HEARTBEAT_MS} ms)`,
  )
  // the survivor's entry is kept alive by its pod's heartbeat: its expiry moves forward
  const expiry = async () => Number((await redis.zrange(userPresenceKey(user), -1, -1, 'WITHSCORES'))[1])
  const before = await expiry()
  await waitFor(async () => (await expiry()) > before, { message: 'the surviving pod refreshed its session' })
  assert.deepEqual(await presence(gw2.baseUrl, user), { online: true, sessions: 1 })
  // and the freed slot can be taken again
  const again = await connectUser(gw2.baseUrl, user, { token })
  assert.deepEqual(await presence(gw2.baseUrl, user), { online: true, sessions: 2 })
  await again.close()
  sse.close()
  await waitFor(async () => !(await presence(gw2.baseUrl, user)).online, {
    message: 'offline after the last session',
  })
})
