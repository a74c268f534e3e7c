// What a push sender does with Tidings' push requests: dedupe by notification id (Tidings may hand
// the same one over twice — see README), look up the user's device tokens (yours: Tidings has none),
// and call FCM/APNs with the collapse key and TTL. Here the platform calls are logged instead.
import { compileValidator, PushRequest } from '@tidings/contracts'
import type { Consumer, Kafka } from 'kafkajs'

const validatePushRequest = compileValidator<PushRequest>(PushRequest)

/** What would go to the platforms for one request (FCM HTTP v1 message, APNs headers + payload). */
export interface PlatformCall {
  notificationId: string
  fcm: {
    message: {
      token: string
      notification: { title: string; body: string }
      data: Record<string, string>
      android: { collapse_key: string; ttl: string }
    }
  }
  apns: { headers: Record<string, string>; payload: { aps: { alert: { title: string; body: string } } } }
}

export function toPlatformCall(req: PushRequest, deviceToken: string, now = Date.now()): PlatformCall {
  // FCM data values must be strings: the app reads them to open the right screen
  const data: Record<string, string> = { notificationId: req.notificationId, kind: req.kind }
  for (const [k, v] of Object.entries(req.data)) data[k] = typeof v === 'string' ? v : JSON.stringify(v)
  return {
    notificationId: req.notificationId,
    fcm: {
      message: {
        token: deviceToken,
        notification: { title: req.title, body: req.body },
        data,
        android: { collapse_key: req.collapseKey, ttl: `${req.ttlSeconds}s` },
      },
    },
    apns: {
      headers: {
        'apns-collapse-id': req.collapseKey,
        'apns-expiration': String(Math.floor(now / 1000) + req.ttlSeconds),
        'apns-push-type': 'alert',
      },
      payload: { aps: { alert: { title: req.title, body: req.body } } },
    },
  }
}

/** Remembers the last `size` notification ids. Production: a store shared by all sender replicas. */
export class SeenIds {
  private readonly ids = new Set<string>()
  private readonly size: number
  constructor(size: number) {
    this.size = size
  }
  /** true the first time an id is seen */
  add(id: string): boolean {
    if (this.ids.has(id)) return false
    this.ids.add(id)
    if (this.ids.size > this.size) this.ids.delete(this.ids.values().next().value as string)
    return true
  }
}

export interface SenderOptions {
  kafka: Kafka
  topic: string
  groupId: string
  /** Your device registry: the tokens of a user's phones (none: nothing to send). */
  devicesOf(userId: string): string[]
  send(call: PlatformCall): Promise<void>
  log(line: Record<string, unknown>): void
}

export async function startSender(opts: SenderOptions): Promise<Consumer> {
  const seen = new SeenIds(100_000)
  const consumer = opts.kafka.consumer({ groupId: opts.groupId })
  await consumer.connect()
  await consumer.subscribe({ topic: opts.topic, fromBeginning: true })
  await consumer.run({
    eachMessage: async ({ message }) => {
      let parsed: unknown
      try {
        parsed = JSON.parse(String(message.value))
      } catch {
        parsed = undefined
      }
      const valid = validatePushRequest(parsed)
      if (!valid.ok) {
        opts.log({ msg: 'not a push request; skipped', offset: message.offset })
        return
      }
      const req = valid.value
      if (!seen.add(req.notificationId)) {
        opts.log({ msg: 'duplicate push request; skipped', notificationId: req.notificationId })
        return
      }
      // a broadcast goes to an FCM topic / your APNs fan-out instead of device tokens
      const tokens = req.userId ? opts.devicesOf(req.userId) : [`/topics/${req.topic}`]
      for (const token of tokens) await opts.send(toPlatformCall(req, token))
    },
  })
  return consumer
}
