import assert from 'node:assert/strict'
import { test } from 'node:test'
import { Cluster, Redis } from 'ioredis'
import { startRedisCluster, uniqueName } from './index.ts'

test('startRedisCluster: 3 primaries in state ok, keys spread over them', async (t) => {
  const cluster = await startRedisCluster()
  const clients: { disconnect(): void }[] = []
  // One hook, clients first: after hooks run in registration order and a client of a stopped server reconnects.
  t.after(async () => {
    for (const c of clients) c.disconnect()
    await cluster.stop()
  })
  assert.equal(cluster.nodes.length, 3)
  assert.equal(new Set(cluster.nodes.map((n) => n.port)).size, 3)

  for (const node of cluster.nodes) {
    const redis = new Redis(node.port, node.host)
    clients.push(redis)
    const info = (await redis.cluster('INFO')) as string
    assert.match(info, /cluster_state:ok/)
    assert.match(info, /cluster_slots_assigned:16384/)
    assert.match(info, /cluster_known_nodes:3/)
  }

  const client = new Cluster(cluster.nodes)
  clients.push(client)
  // Keys until every primary owns at least one: proves redirection to all nodes, not one lucky slot.
  const prefix = uniqueName('infra-cluster')
  const keys = Array.from({ length: 30 }, (_, i) => `${prefix}-${i}`)
  for (const key of keys) await client.set(key, `v:${key}`)
  for (const key of keys) assert.equal(await client.get(key), `v:${key}`)

  const slots = new Set(await Promise.all(keys.map((k) => client.cluster('KEYSLOT', k) as Promise<number>)))
  assert.ok(slots.size > 1, 'keys hash to different slots')
  const perNode = await Promise.all(client.nodes('master').map((n) => n.dbsize()))
  assert.equal(perNode.length, 3)
  assert.ok(
    perNode.every((n) => n > 0),
    `every primary holds keys: ${perNode.join(', ')}`,
  )
})
