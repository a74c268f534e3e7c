import { CloseCode } from '@tidings/contracts'
import { Counter, createMetricsRegistry, Gauge, type Registry } from '@tidings/runtime'

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
}

/** Every series exists from the start at zero, so dashboards and alerts see it before it moves. */
export function createGatewayMetrics(channelCount: () => number): GatewayMetrics {
  const registry = createMetricsRegistry('gateway')
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
  return {
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
