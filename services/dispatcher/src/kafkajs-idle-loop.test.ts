import assert from 'node:assert/strict'
import { createRequire } from 'node:module'
import { test } from 'node:test'
// the fix as the dispatcher loads it: through its kafkajs seam
import './kafka.ts'

// kafkajs's own request queue (one per broker connection), driven without a network
interface Entry {
  correlationId: number
  resolve(): void
  reject(): void
}
interface Queue {
  throttleCheckTimeoutId: ReturnType<typeof setTimeout> | null
  push(request: { entry: Entry; expectResponse: boolean; sendRequest(): void }): void
  fulfillRequest(response: { correlationId: number; payload: Buffer; size: number }): void
  maybeThrottle(ms: number): void
}
const require = createRequire(import.meta.url)
const RequestQueue = require('kafkajs/src/network/requestQueue/index.js') as new (o: object) => Queue
const quiet = { debug() {}, info() {}, warn() {}, error() {} }
const newQueue = (): Queue =>
  new RequestQueue({
    maxInFlightRequests: 1,
    requestTimeout: 30_000,
    enforceRequestTimeout: false,
    logger: quiet,
  })

let nextId = 1
/** Pushes a request; resolves with its correlation id once kafkajs hands it to the socket. */
function send(queue: Queue): Promise<number> {
  const correlationId = nextId++
  return new Promise((resolve) =>
    queue.push({
      entry: { correlationId, resolve() {}, reject() {} },
      expectResponse: true,
      sendRequest: () => resolve(correlationId),
    }),
  )
}
const answer = (queue: Queue, correlationId: number) =>
  queue.fulfillRequest({ correlationId, payload: Buffer.alloc(0), size: 0 })

test('a broker connection with nothing pending keeps no timer after a response (the 1 ms loop)', async () => {
  const queue = newQueue()
  answer(queue, await send(queue))
  assert.equal(queue.throttleCheckTimeoutId, null)
})

test('requests held back are still sent: behind the in-flight limit, and behind a throttle', async () => {
  const queue = newQueue()
  const first = await send(queue)
  // in flight: one; the second waits, and goes out when the first is answered
  const second = send(queue)
  answer(queue, first)
  answer(queue, await second)
  // the broker asked for a pause: a request waits for its end (kafkajs's own timer), then goes out
  queue.maybeThrottle(20)
  answer(queue, await send(queue))
  assert.equal(queue.throttleCheckTimeoutId, null, 'and no timer is left once nothing waits')
})
