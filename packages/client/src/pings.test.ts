import assert from 'node:assert/strict'
import { test } from 'node:test'
import { TidingsError } from './errors.ts'
import { createPendingPings } from './pings.ts'
import { FakeClock } from './testing/fakes.ts'
import type { Transport } from './transport.ts'

const transport = (ok = true) => {
  const sent: unknown[] = []
  const t: Transport = {
    kind: 'websocket',
    send: (f) => {
      sent.push(f)
      return ok
    },
    close: () => undefined,
  }
  return { t, sent }
}

test('pongs answer pings in order with the round trip on the clock', async () => {
  const clock = new FakeClock()
  const pings = createPendingPings(clock)
  const { t, sent } = transport()
  const first = pings.send(t)
  await clock.advance(30)
  const second = pings.send(t)
  await clock.advance(20)
  pings.pong()
  pings.pong()
  assert.equal(await first, 50)
  assert.equal(await second, 20)
  assert.deepEqual(sent, [{ type: 'ping' }, { type: 'ping' }])
  pings.pong() // a stray pong is ignored
})

test('an unsendable ping rejects at once; a closed connection rejects the waiting ones', async () => {
  const pings = createPendingPings(new FakeClock())
  await assert.rejects(pings.send(transport(false).t), TidingsError)
  const waiting = pings.send(transport().t)
  pings.cancel('gone')
  await assert.rejects(waiting, (e) => e instanceof TidingsError && /connection closed: gone/.test(e.message))
})
