import { Cluster } from 'ioredis'
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

  // One Redis: the SSUBSCRIBEs of one event-loop turn go as one command (one write instead of one
  // per connect in a reconnect storm, issue 11). A Cluster takes one channel per SSUBSCRIBE (its
  // channels must share a slot; users are spread over all of them), as before.
  let batch: { names: string[]; ready: Promise<void> } | null = null
  function ssubscribe(name: string): Promise<void> {
    // Before the connection is ready, straight to ioredis's offline queue: a command written
    // during its ready check (INFO) makes that check fail, and the subscription with it.
    if (subscriber instanceof Cluster || subscriber.status !== 'ready') {
      return subscriber.ssubscribe(name).then(() => undefined)
    }
    if (!batch) {
      const names: string[] = []
      const ready = new Promise<void>((resolve, reject) => {
        setImmediate(() => {
          batch = null
          if (names.length === 0) return resolve()
          subscriber.ssubscribe(...names).then(() => resolve(), reject)
        })
      })
      batch = { names, ready }
    }
    batch.names.push(name)
    return batch.ready
  }

  function subscribe<K extends Channel['kind']>(kind: K, name: string): Extract<Channel, { kind: K }> {
    let ch = channels.get(name)
    if (!ch) {
      const ready = ssubscribe(name)
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
    // Not sent yet: it is taken out of the batch, so no SSUBSCRIBE follows the SUNSUBSCRIBE.
    const queued = batch?.names.indexOf(name) ?? -1
    if (queued >= 0) {
      batch!.names.splice(queued, 1)
      return
    }
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
