import assert from 'node:assert/strict'
import { createRequire } from 'node:module'
import { test } from 'node:test'
import './kafkajs-idle-loop.ts'

// kafkajs's own class, as the dispatcher's clients use it (kafka.ts imports the fix)
const require = createRequire(import.meta.url)
const RequestQueue = require('kafkajs/src/network/requestQueue/index.js') as {
  prototype: { scheduleCheckPendingRequests(this: Queue): void }
}

interface Queue {
  pending: unknown[]
  throttledUntil: number
  throttleCheckTimeoutId: ReturnType<typeof setTimeout> | null
  checkPendingRequests(): void
}

const queue = (pending: unknown[], throttledUntil: number): Queue => ({
  pending,
  throttledUntil,
  throttleCheckTimeoutId: null,
  checkPendingRequests() {},
})

test('kafkajs schedules no check when nothing is pending and no throttle is in force', () => {
  const q = queue([], -1) // what every connection has after its responses: the 1 ms loop before
  RequestQueue.prototype.scheduleCheckPendingRequests.call(q)
  assert.equal(q.throttleCheckTimeoutId, null)
})

test('kafkajs still schedules the check for a queued request, and for the end of a throttle', () => {
  for (const q of [queue([{}], -1), queue([], Date.now() + 60_000)]) {
    RequestQueue.prototype.scheduleCheckPendingRequests.call(q)
    assert.notEqual(q.throttleCheckTimeoutId, null)
    clearTimeout(q.throttleCheckTimeoutId!)
  }
})
