// Peer of the end-to-end bench (e2e.ts): Socket.IO 4 with @socket.io/redis-adapter, as its docs set it
// up, plus the small kafkajs bridge a team would write to push Kafka events to users: each process
// consumes the topic in one consumer group and calls `io.to(userId).emit('notification', event)`; the
// adapter forwards the emit through Redis to whichever process holds the user's sockets.
// Sockets authenticate with the same HS256 JWT (servers/common.ts) and join the room of their user.
// ADAPTER=sharded: the adapter's sharded variant instead (`createShardedAdapter`, Redis 7 sharded pub/sub,
// its default "dynamic" mode: one channel per room, so an emit reaches only the servers holding the
// room); with the classic one every server pattern-subscribes to all of the namespace's channels, so
// every emit reaches every server.
//   env: PORT HOST REDIS_URL JWT_SECRET KAFKA_BROKERS TOPIC GROUP_ID [ADAPTER=classic|sharded]
import { createServer } from 'node:http'
import { createAdapter, createShardedAdapter } from '@socket.io/redis-adapter'
import { Redis } from 'ioredis'
import { Kafka, logLevel } from 'kafkajs'
// the same kafkajs fix as the dispatcher's (a 1 ms timer loop per connection): the bridge is ours, and
// kafkajs's bug is no part of what Socket.IO costs
import '../../../services/dispatcher/src/kafkajs-idle-loop.ts'
import { Server } from 'socket.io'
import { env, userOf } from './common.ts'

let consuming = false
const http = createServer((req, res) => {
  if (req.url === '/healthz') {
    // ready once the bridge has its partitions: produced events are then delivered without a rebalance
    res.writeHead(consuming ? 200 : 503).end()
    return
  }
  if (req.url === '/stats') {
    res.writeHead(200, { 'content-type': 'application/json' })
    res.end(JSON.stringify({ sockets: io.engine.clientsCount, channels: io.of('/').adapter.rooms.size }))
    return
  }
  res.writeHead(404).end()
})

const adapterKind = process.env.ADAPTER ?? 'classic'
if (adapterKind !== 'classic' && adapterKind !== 'sharded')
  throw new Error(`ADAPTER=${adapterKind}: classic or sharded`)
const pub = new Redis(env('REDIS_URL'))
const sub = pub.duplicate()
const io = new Server(http, {
  transports: ['websocket'],
  serveClient: false,
  adapter: adapterKind === 'sharded' ? createShardedAdapter(pub, sub) : createAdapter(pub, sub),
})

io.use((socket, next) => {
  const token = (socket.handshake.auth as { token?: unknown }).token
  void userOf(typeof token === 'string' ? `Bearer ${token}` : undefined).then((user) => {
    if (!user) return next(new Error('unauthorized'))
    void socket.join(user)
    next()
  })
})

const kafka = new Kafka({
  clientId: 'socketio-bridge',
  brokers: env('KAFKA_BROKERS').split(','),
  logLevel: logLevel.ERROR,
})
const consumer = kafka.consumer({ groupId: env('GROUP_ID'), maxWaitTimeInMs: 100 })
consumer.on(consumer.events.GROUP_JOIN, () => {
  consuming = true
})
await consumer.connect()
await consumer.subscribe({ topic: env('TOPIC'), fromBeginning: true })
await consumer.run({
  partitionsConsumedConcurrently: 4,
  eachMessage: async ({ message }) => {
    if (!message.value) return
    const event = JSON.parse(message.value.toString()) as { borrowerId?: string }
    if (typeof event.borrowerId === 'string') io.to(event.borrowerId).emit('notification', event)
  },
})

http.listen(Number(env('PORT')), env('HOST'))

const stop = () => {
  void Promise.allSettled([consumer.disconnect(), io.close()]).then(() => {
    pub.disconnect()
    sub.disconnect()
    process.exit(0)
  })
}
process.once('SIGTERM', stop)
process.once('SIGINT', stop)
