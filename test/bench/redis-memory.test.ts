import assert from 'node:assert/strict'
import { test } from 'node:test'
import { redisMemoryTable } from './lib/tables.ts'
import { runRedisMemory } from './redis-memory.ts'

// The bench's short version (pnpm bench -- redis-memory writes 20,000): its figures come out and add up.
test('redis-memory: bytes per inbox entry, dedupe key, state and push key, from a private Redis', async () => {
  const runs = await runRedisMemory({ notifications: 4000, users: [4000, 100, 4] })
  assert.deepEqual(
    runs.map((r) => [r.users, r.inboxEntries]),
    [
      [4000, 1],
      [100, 40],
      [4, 1000],
    ],
  )
  // bounds loose enough for the noise of 4,000 notifications, tight enough to catch a reading
  // taken at the wrong moment (an inbox left behind would put a whole entry into the dedupe key)
  for (const r of runs) {
    const run = JSON.stringify(r)
    assert.ok(r.entryBytes > 300 && r.entryBytes < 500, `an entry is the meta line and the frame: ${run}`)
    assert.ok(r.inboxBytesPerNotification > r.entryBytes * 0.8, `an inbox holds its entries: ${run}`)
    assert.ok(r.inboxBytes >= r.inboxEntries * r.entryBytes, run)
    assert.ok(
      r.dedupeKeyBytes > 100 && r.dedupeKeyBytes < 450,
      `a dedupe key: its name, value, expiry: ${run}`,
    )
    assert.ok(r.pushDoneBytes > 80 && r.pushDoneBytes < 300, `a push hand-off key: ${run}`)
  }
  const [many] = runs
  assert.ok(many!.stateBytes! > 80 && many!.stateBytes! < 400, `a state: ${JSON.stringify(many)}`)
  assert.deepEqual(
    runs.map((r) => r.stateBytes === null),
    [false, true, true],
    'a state is measured only over 1,000 users or more',
  )
  // an inbox of one entry costs more per entry than an inbox of 1,000: a list's own overhead
  assert.ok(runs[0]!.inboxBytesPerNotification > runs[2]!.inboxBytesPerNotification, JSON.stringify(runs))
  assert.match(redisMemoryTable(runs), /\| 4 \| 4000 \| \d+ \| \d+ \| 1000, [\d.]+ \| \d+ \| – \| \d+ \|/)
})
