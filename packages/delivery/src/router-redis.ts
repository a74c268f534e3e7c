import { topicChannel, userChannel } from './keys.ts'
import { decodeLiveNotification } from './live-message.ts'
import { splitMessage } from './meta.ts'
import type { RedisClient } from './redis-client.ts'
import type { ChannelRouter, FanOut, TopicListener, UserListener } from './router.ts'

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
