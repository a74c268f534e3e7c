// Redis vanishes without closing anything, as a failover to another machine behind the same address
// looks from the pods: their connections stay open and say nothing. Both services must notice within
// REDIS_TIMEOUT_MS and carry on through new connections, with nothing lost for a connected app.
import assert from 'node:assert/strict'
import { after, afterEach, before, test } from 'node:test'
import type { Producer } from 'kafkajs'
import {
  infraFromEnv,
  type RedisServer,
  type SilencingProxy,
  startRedis,
  startSilencingProxy,
  waitFor,
} from '../infra/index.ts'
import { loanDecision, produceDecisions } from './kafka.ts'
import { httpStatus } from './processes.ts'
import { type Stack, startStackAndProducer } from './stack.ts'
import { assertContiguous, newUserId, ResumingClient } from './users.ts'

let redisServer: RedisServer
let proxy: SilencingProxy
let stack: Stack
let producer: Producer

before(async () => {
  const { kafkaBrokers } = infraFromEnv()
  redisServer = await startRedis()
  proxy = await startSilencingProxy({ host: '127.0.0.1', port: redisServer.port })
  const timeout = { REDIS_TIMEOUT_MS: '1000' }
  ;({ stack, producer } = await startStackAndProducer({
    name: 'e2e-redis-silent',
    redisUrl: `redis://127.0.0.1:${proxy.port}`,
    kafkaBrokers,
    gateways: 1,
    gatewayEnv: timeout,
    dispatcherEnv: timeout,
  }))
})

afterEach((t) => stack?.check(t))

after(async () => {
  await producer?.disconnect()
  await stack?.stop()
  await proxy?.close()
  await redisServer?.stop()
})

test('Redis goes silent under a live session: both services reconnect by themselves and the app gets every notification once, in order', async (t) => {
  const gw = stack.gateways[0]!
  const user = newUserId('silent')
  // the app reconnects and resumes whenever its session ends, as the SDK does
  const app = new ResumingClient(user, { ackEvery: 1 })
  let stopping = false
  app.whenClosed(() => {
    if (stopping) return
    // refused (503) while the pod's Redis is still being found again: try again, as the SDK does
    void waitFor(
      () =>
        stopping ||
        app.connect(gw.baseUrl).then(
          () => true,
          () => false,
        ),
      { timeoutMs: 30_000, message: 'the app reconnected' },
    ).catch(() => undefined) // the test's own wait below reports what did not arrive
  })
  await app.connect(gw.baseUrl)
  try {
    await produceDecisions(producer, stack.topics.loanDecisions, [loanDecision(user)])
    await waitFor(() => app.allSeqs().length === 1, { message: 'the first notification, live' })

    // the gateway's command and pub/sub connections and the dispatcher's: all open, all mute
    const silenced = proxy.silenceOpenConnections()
    assert.ok(silenced >= 3, `silenced ${silenced} connections, expected the services' 3 at least`)
    const silencedAt = Date.now()

    // written by a dispatcher whose connection just died, published to a gateway whose
    // subscriber did too: without a timeout both wait for the kernel (~15 min) or forever
    await produceDecisions(producer, stack.topics.loanDecisions, [loanDecision(user), loanDecision(user)])
    await waitFor(() => app.allSeqs().length >= 3, {
      timeoutMs: 30_000,
      message: 'the two notifications sent after Redis went silent',
    })
    const recoveredMs = Date.now() - silencedAt
    assertContiguous(app.allSeqs(), 1, 'every notification once, in order')
    assert.equal(
      app.sessions.every((s) => s.epoch === app.sessions[0]!.epoch),
      true,
      'one epoch',
    )
    await waitFor(async () => (await httpStatus(`${gw.baseUrl}/readyz`)) === 200, {
      message: 'the gateway ready again',
    })
    await waitFor(async () => (await httpStatus(`${stack.dispatcher!.baseUrl}/readyz`)) === 200, {
      message: 'the dispatcher ready again',
    })
    t.diagnostic(
      `Redis silent → 3 notifications in ${app.sessions.length} session(s), the last ${recoveredMs} ms after`,
    )
  } finally {
    stopping = true
    await app.current?.socket.close()
  }
})
