// The gateway on a Redis Cluster (3 primaries, sharded pub/sub): live delivery for users on every
// shard, and no notification lost when a shard's subscriber connection is dropped under a live
// session (ioredis re-creates it; the gateway re-reads the inboxes).
import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import type { NotificationFrame } from '@tidings/contracts'
import { createDeliveryStore, createRedisConnection, DEFAULT_RETENTION } from '@tidings/delivery'
import { type RedisCluster, startRedisCluster, uniqueName, waitFor } from '@tidings/test/infra'
import { signUserToken } from '@tidings/test/support/tokens'
import { openSocket } from '@tidings/test/support/ws-client'
import { Redis } from 'ioredis'
import { notification, startTestGateway, type TestGateway } from './testing/test-gateway.ts'

let cluster: RedisCluster
let gw: TestGateway
before(async () => {
  cluster = await startRedisCluster()
  gw = await startTestGateway({
    REDIS_CLUSTER_NODES: cluster.nodes.map((n) => `${n.host}:${n.port}`).join(','),
  })
})
after(async () => {
  await gw?.stop()
  await cluster?.stop()
})

const seqs = (frames: { type: string }[]) =>
  frames.filter((f): f is NotificationFrame => f.type === 'notification').map((f) => f.seq)

test('users on every shard get their notifications; a dropped shard subscriber loses none', async () => {
  const writer = createRedisConnection({ clusterNodes: cluster.nodes }, { name: 'cluster-writer' })
  try {
    const store = createDeliveryStore(writer, DEFAULT_RETENTION)
    const users = Array.from({ length: 6 }, () => uniqueName('u'))
    const sockets = await Promise.all(
      users.map(async (u) => {
        const s = await openSocket(gw.url, { token: await signUserToken(u) })
        await s.next('welcome')
        return s
      }),
    )
    for (const u of users) await store.deliverToUser(u, uniqueName('e'), notification('before'))
    for (const s of sockets) assert.deepEqual(seqs(await s.waitForCount('notification', 1)), [1])

    // drop every shard's pub/sub connections (a failover, a proxy timeout), then publish at once
    for (const n of cluster.nodes) {
      const r = new Redis(n.port, n.host)
      await r.call('CLIENT', 'KILL', 'TYPE', 'pubsub')
      r.disconnect()
    }
    for (const u of users) await store.deliverToUser(u, uniqueName('e'), notification('during'))
    // nothing else is published: only the gateway's re-read can bring seq 2
    for (const s of sockets) assert.deepEqual(seqs(await s.waitForCount('notification', 2, 15_000)), [1, 2])
    await Promise.all(sockets.map((s) => s.close()))
    await waitFor(() => gw.gateway.pod.sessions.size === 0, { message: 'sessions released' })
  } finally {
    writer.disconnect()
  }
})
