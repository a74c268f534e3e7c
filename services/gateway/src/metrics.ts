import { CloseCode } from '@tidings/contracts'
import {
  Counter,
  createMetricsRegistry,
  createRedisErrorCounter,
  Gauge,
  Histogram,
  type Registry,
} from '@tidings/runtime'
import pkg from '../package.json' with { type: 'json' }
import { DELIVERY_PATHS } from './tracing.ts'

/** Kafka timestamp → socket write: live is milliseconds, a replay may be a day old. */
const AGE_BUCKETS = [
  0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800, 3600, 21600,
  86400,
]

export interface GatewayMetrics {
  registry: Registry
  connections: Gauge
  channels: Gauge
  delivered: Counter
  replayed: Counter
  missed: Counter
  resyncs: Counter
  acks: Counter
  slowReaders: Counter
  closes: Counter<'code'>
  refused: Counter<'reason'>
  /** Open connections by transport (ws, sse). */
  connectionsByTransport: Gauge<'transport'>
  /** Kafka timestamp → write to the client, by path (live, replay, rest). */
  deliveryAge: Histogram<'path'>
  /** Notifications sent from the inbox per (re)connect or resync. */
  replaySize: Histogram
  redisErrors: Counter<'kind'>
  /** MAX_CONNECTIONS: `tidings_ws_connections / tidings_ws_max_connections` is how full a pod is. */
  maxConnections: Gauge
}

/** Every series exists from the start at zero, so dashboards and alerts see it before it moves. */
export function createGatewayMetrics(channelCount: () => number): GatewayMetrics {
  const registry = createMetricsRegistry('gateway', { version: pkg.version })
  const r = [registry]
  const closes = new Counter({
    name: 'tidings_ws_closes_total',
    help: 'sockets closed by the server, by close code',
    labelNames: ['code'],
    registers: r,
  })
  for (const code of Object.values(CloseCode)) closes.inc({ code: String(code) }, 0)
  const refused = new Counter({
    name: 'tidings_ws_refused_total',
    help: 'upgrades refused before the socket opened',
    labelNames: ['reason'],
    registers: r,
  })
  for (const reason of [
    'origin',
    'token_missing',
    'token_invalid',
    'token_expired',
    'draining',
    'bad_request',
    'auth_unavailable',
    'revoked',
    'redis_unavailable',
    'rate_limited',
    'pod_full',
    'wrong_route',
  ])
    refused.inc({ reason }, 0)
  const connectionsByTransport = new Gauge({
    name: 'tidings_connections',
    help: 'open client connections on this pod, by transport',
    labelNames: ['transport'],
    registers: r,
  })
  for (const transport of ['ws', 'sse']) connectionsByTransport.set({ transport }, 0)
  const deliveryAge = new Histogram({
    name: 'tidings_delivery_age_seconds',
    help: 'age of a notification when written to a client (Kafka timestamp to socket write), by path',
    labelNames: ['path'],
    buckets: AGE_BUCKETS,
    registers: r,
  })
  for (const path of DELIVERY_PATHS) deliveryAge.zero({ path })
  return {
    connectionsByTransport,
    deliveryAge,
    replaySize: new Histogram({
      name: 'tidings_replay_size',
      help: 'notifications sent from the inbox per connect or resync',
      buckets: [0, 1, 2, 5, 10, 25, 50, 100, 250, 500, 1000],
      registers: r,
    }),
    redisErrors: createRedisErrorCounter(registry),
    maxConnections: new Gauge({
      name: 'tidings_ws_max_connections',
      help: 'connections this pod accepts (MAX_CONNECTIONS); beyond, new sockets are closed 1013',
      registers: r,
    }),
    registry,
    connections: new Gauge({
      name: 'tidings_ws_connections',
      help: 'open sockets on this pod',
      registers: r,
    }),
    channels: new Gauge({
      name: 'tidings_redis_channels',
      help: 'Redis channels this pod is subscribed to',
      registers: r,
      collect() {
        this.set(channelCount())
      },
    }),
    delivered: new Counter({
      name: 'tidings_notifications_live_total',
      help: 'notifications pushed live',
      registers: r,
    }),
    replayed: new Counter({
      name: 'tidings_notifications_replayed_total',
      help: 'notifications sent from the inbox on (re)connect',
      registers: r,
    }),
    missed: new Counter({ name: 'tidings_missed_frames_total', help: '`missed` frames sent', registers: r }),
    resyncs: new Counter({
      name: 'tidings_resyncs_total',
      help: 'live gaps or epoch changes repaired from the inbox',
      registers: r,
    }),
    acks: new Counter({ name: 'tidings_acks_total', help: 'acks applied', registers: r }),
    slowReaders: new Counter({
      name: 'tidings_slow_readers_total',
      help: 'sockets closed 1013 for reading too slowly',
      registers: r,
    }),
    closes,
    refused,
  }
}
