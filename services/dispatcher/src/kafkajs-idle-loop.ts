// kafkajs's request queue without its 1 ms timer loop. kafkajs 2.2.4 (unmaintained) reschedules its
// pending-request check after every response even when nothing is pending, with a delay of
// `-1 - Date.now()` that Node turns into 1 ms: from its first response on, every broker connection
// runs a timer each millisecond for as long as it lives (tulios/kafkajs#1704; on Node 24 this is also
// the TimeoutNegativeWarning of #1751). An idle producer + consumer spent 25–27 ms of CPU a second on
// it, 4–5 ms with this. Nothing pending and no throttle in force means there is nothing to check: a
// request that kafkajs queues schedules its own check (push), and every response checks again.
import { createRequire } from 'node:module'

interface RequestQueue {
  pending: unknown[]
  /** ms since the epoch until which the broker asked to be left alone; -1 = never throttled */
  throttledUntil: number
  scheduleCheckPendingRequests(): void
}

const require = createRequire(import.meta.url)
const { prototype } = require('kafkajs/src/network/requestQueue/index.js') as { prototype: RequestQueue }
const schedule = prototype.scheduleCheckPendingRequests
// a kafkajs that no longer has the method would otherwise keep its loop with this fix in place
if (typeof schedule !== 'function') {
  throw new Error(
    'kafkajs RequestQueue has no scheduleCheckPendingRequests: services/dispatcher/src/kafkajs-idle-loop.ts must follow the kafkajs upgrade',
  )
}

prototype.scheduleCheckPendingRequests = function scheduleCheckPendingRequests(this: RequestQueue) {
  if (this.pending.length === 0 && this.throttledUntil <= Date.now()) return
  schedule.call(this)
}
