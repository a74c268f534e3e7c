// The short chaos ledger inside `pnpm test` (the full one is `pnpm test:chaos`): SDK clients receive a
// stream of uniquely numbered events while a gateway and a dispatcher are SIGKILLed, and Redis (AOF)
// and the Kafka broker restart. Nothing may be lost, shown twice or shown out of order.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { runChaos } from './scenario.ts'

test('chaos ledger (short): a gateway and a dispatcher SIGKILLed, Redis and Kafka restarted — 0 lost, 0 twice, 0 out of order', {
  timeout: 300_000,
}, async () => {
  const result = await runChaos({
    users: 100,
    events: 6000,
    ratePerSecond: 200,
    gateways: 2,
    dispatchers: 2,
    partitions: 3,
    faults: ['gateway', 'dispatcher', 'redis', 'kafka'],
  })
  const summary = JSON.stringify({ ...result, options: undefined }, null, 1)
  assert.equal(result.produced, 6000)
  assert.equal(result.lost, 0, summary)
  assert.equal(result.shownTwice, 0, summary)
  assert.equal(result.outOfOrder, 0, summary)
  assert.equal(result.missedSignals, 0, summary)
  assert.equal(result.faults.length, 4)
})
