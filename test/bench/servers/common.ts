// What the baseline servers share, so that they differ from each other only in the WebSocket stack:
// the same JWT check (jose, HS256, like the gateway's verifier) and a per-user Redis sharded pub/sub
// subscription (one ioredis subscriber connection, SSUBSCRIBE on a user's first socket, SUNSUBSCRIBE
// on the last one), with live messages decoded once and the frame sent to each socket of the user.
import { decodeLiveNotification, userChannel } from '@tidings/delivery'
import { Redis } from 'ioredis'
import { jwtVerify } from 'jose'

export interface Sink {
  send(frame: Buffer | string, opts: { binary: boolean }): void
}

export const env = (name: string): string => {
  const v = process.env[name]
  if (!v) throw new Error(`${name} is required`)
  return v
}

const secret = () => new TextEncoder().encode(env('JWT_SECRET'))
let key: Uint8Array | undefined

const BEARER = /^Bearer[ \t]+([A-Za-z0-9._~+/-]+=*)$/i

/** The user of `Authorization: Bearer <jwt>`, or null when missing/invalid. */
export async function userOf(authorization: string | undefined): Promise<string | null> {
  const token = authorization ? BEARER.exec(authorization)?.[1] : undefined
  if (!token) return null
  key ??= secret()
  try {
    const { payload } = await jwtVerify(token, key, { algorithms: ['HS256'], requiredClaims: ['sub', 'exp'] })
    return typeof payload.sub === 'string' ? payload.sub : null
  } catch {
    return null
  }
}

export interface UserRouter {
  /** Resolves once Redis confirmed the subscription. */
  join(userId: string, sink: Sink): Promise<void>
  leave(userId: string, sink: Sink): void
  readonly channels: number
  close(): Promise<void>
}

const TEXT = { binary: false }

export function createUserRouter(redisUrl: string): UserRouter {
  const sub = new Redis(redisUrl, { maxRetriesPerRequest: null })
  sub.on('error', (err) => process.stderr.write(`redis: ${err.message}\n`))
  const byChannel = new Map<string, Set<Sink>>()
  const pending = new Map<string, Promise<unknown>>()
  sub.on('smessageBuffer', (channel: Buffer, message: Buffer) => {
    const sinks = byChannel.get(channel.toString())
    if (!sinks) return
    const live = decodeLiveNotification(message)
    if (live) for (const s of sinks) s.send(live.frame, TEXT)
  })
  return {
    async join(userId, sink) {
      const ch = userChannel(userId)
      let sinks = byChannel.get(ch)
      if (!sinks) {
        sinks = new Set()
        byChannel.set(ch, sinks)
        const p = sub.ssubscribe(ch)
        pending.set(ch, p)
        sinks.add(sink)
        try {
          await p
        } finally {
          pending.delete(ch)
        }
        return
      }
      sinks.add(sink)
      await pending.get(ch)
    },
    leave(userId, sink) {
      const ch = userChannel(userId)
      const sinks = byChannel.get(ch)
      if (!sinks?.delete(sink) || sinks.size > 0) return
      byChannel.delete(ch)
      sub.sunsubscribe(ch).catch(() => undefined)
    },
    get channels() {
      return byChannel.size
    },
    async close() {
      await sub.quit().catch(() => undefined)
    },
  }
}

/** `{"type":"welcome",…}`: the first frame, sent once the socket is admitted and subscribed. */
export const welcome = (userId: string): string => JSON.stringify({ type: 'welcome', userId })

/** Stops on SIGTERM/SIGINT. */
export function onStop(stop: () => Promise<void>): void {
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.once(signal, () => {
      stop().then(
        () => process.exit(0),
        () => process.exit(1),
      )
    })
  }
}
