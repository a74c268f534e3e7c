import { topicChannel, userChannel } from './keys.ts'
import { decodeLiveNotification, type LiveNotification } from './live-message.ts'
import { type DeliveryMeta, splitMessage } from './meta.ts'
import type { RedisClient } from './redis-client.ts'

export type UserListener = (message: LiveNotification) => void
export type TopicListener = (frame: Buffer) => void

/**
 * Runs a pod's fan-out of one message to its listeners (all synchronous), e.g. inside a span: one
 * per message per pod, whatever the number of sockets it reaches. Default: just runs it.
 */
export type FanOut = (
  kind: 'user' | 'topic',
  meta: DeliveryMeta | undefined,
  listeners: number,
  deliver: () => void,
) => void

/**
 * Routes Redis sharded pub/sub to in-process listeners. A pod subscribes to a user's (or a
 * topic's) channel when its first listener joins and unsubscribes when the last one leaves,
 * so Redis only sends a pod what its sockets need. Each message is decoded once per pod.
 */
export interface ChannelRouter {
  /** Resolves once Redis confirmed the subscription: from then on nothing published is missed. */
  joinUser(userId: string, listener: UserListener): Promise<void>
  leaveUser(userId: string, listener: UserListener): void
  joinTopic(topic: string, listener: TopicListener): Promise<void>
  leaveTopic(topic: string, listener: TopicListener): void
  /** Channels this pod is subscribed to. */
  readonly channelCount: number
}

type Channel =
  | { kind: 'user'; listeners: Set<UserListener>; ready: Promise<void> }
  | { kind: 'topic'; listeners: Set<TopicListener>; ready: Promise<void> }

/** `subscriber` must be a connection dedicated to pub/sub (it cannot run other commands). */
export function createChannelRouter(
  subscriber: RedisClient,
  onError: (err: Error) => void,
  fanOut?: FanOut,
): ChannelRouter {
  const channels = new Map<string, Channel>()

  subscriber.on('smessageBuffer', (channelBuf: Buffer, message: Buffer) => {
    const ch = channels.get(channelBuf.toString())
    if (!ch) return
    if (ch.kind === 'topic') {
      const { frame, meta } = splitMessage(message)
      const listeners = ch.listeners
      const deliver = () => {
        for (const l of listeners) l(frame)
      }
      if (fanOut) fanOut('topic', meta, listeners.size, deliver)
      else deliver()
      return
    }
    const live = decodeLiveNotification(message)
    if (!live) return onError(new Error(`undecodable message on ${channelBuf.toString()}`))
    const listeners = ch.listeners
    const deliver = () => {
      for (const l of listeners) l(live)
    }
    // a revocation is no notification: not part of any event's delivery
    if (fanOut && live.revokedBefore === undefined) fanOut('user', live.meta, listeners.size, deliver)
    else deliver()
  })

  function subscribe<K extends Channel['kind']>(kind: K, name: string): Extract<Channel, { kind: K }> {
    let ch = channels.get(name)
    if (!ch) {
      const ready = subscriber.ssubscribe(name).then(() => undefined)
      const created = { kind, listeners: new Set(), ready } as Channel
      channels.set(name, created)
      // a failed subscribe must not stay cached: the next join tries again
      ready.catch(() => {
        if (channels.get(name) === created) channels.delete(name)
      })
      ch = created
    }
    if (ch.kind !== kind) throw new Error(`channel ${name} is not a ${kind} channel`)
    return ch as Extract<Channel, { kind: K }>
  }

  function leave(name: string, listener: UserListener | TopicListener): void {
    const ch = channels.get(name)
    if (!ch) return
    ;(ch.listeners as Set<unknown>).delete(listener)
    if (ch.listeners.size > 0) return
    channels.delete(name)
    // Commands on one connection run in order, so a later re-join's SSUBSCRIBE lands after this.
    subscriber.sunsubscribe(name).catch(onError)
  }

  return {
    joinUser(userId, listener) {
      const ch = subscribe('user', userChannel(userId))
      ch.listeners.add(listener)
      return ch.ready
    },
    leaveUser: (userId, listener) => leave(userChannel(userId), listener),
    joinTopic(topic, listener) {
      const ch = subscribe('topic', topicChannel(topic))
      ch.listeners.add(listener)
      return ch.ready
    },
    leaveTopic: (topic, listener) => leave(topicChannel(topic), listener),
    get channelCount() {
      return channels.size
    },
  }
}
