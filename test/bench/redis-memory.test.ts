import assert from 'node:assert/strict'
import { test } from 'node:test'
import { redisMemoryTable } from './lib/tables.ts'
import { runRedisMemory } from './redis-memory.ts'

// The bench's short version (pnpm bench -- redis-memory writes 20,000): its figures come out and add up.
test('redis-memory: bytes per notification, per dedupe key, per state and inbox, from a private Redis', async () => {
  const runs = await runRedisMemory({ notifications: 1000, users: [100, 2] })
  assert.deepEqual(
    runs.map((r) => [r.users, r.inboxEntries]),
    [
      [100, 10],
      [2, 500],
    ],
  )
  for (const r of runs) {
    const run = JSON.stringify(r)
    assert.ok(r.entryBytes > 300, `an entry is the whole frame: ${run}`)
    // a dedupe key holds its name (the user, the topic and a uuid), its value and an expiry: well over 100 B
    assert.ok(r.dedupeKeyBytes > 100, `what stays after the ack is the dedupe keys: ${run}`)
    assert.ok(
      r.deliveredBytes > r.entryBytes + 100,
      `unread, a notification is its entry and its key: ${run}`,
    )
    assert.ok(r.stateBytes > 50 && r.inboxBytes > r.inboxEntries * r.entryBytes, run)
    assert.ok(r.pushDoneBytes > 50, `a push hand-off leaves a key: ${run}`)
  }
  assert.match(redisMemoryTable(runs), /\| 2 \| 1000 \| \d+ \| \d+ \| \d+ \| \d+ \| 500, \d+ \| \d+ \|/)
})
