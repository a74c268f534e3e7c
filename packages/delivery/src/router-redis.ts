import { Cluster } from 'ioredis'
import { topicChannel, userChannel } from './keys.ts'
import { decodeLiveNotification } from './live-message.ts'
import { splitMessage } from './meta.ts'
import type { RedisClient } from './redis-client.ts'
import {
  type ChannelRouter,
  type FanOut,
  notifyListener,
  type TopicListener,
  type UserListener,
} from './router.ts'

/**
 * A channel's listeners: the one listener most channels have (a user's one socket on this pod), a Set
 * from the second on, null for none. Not always a Set: an empty Set and its table are ~150 B per
 * channel, i.e. per idle socket (issue 11).
 */
type Listeners<L> = L | Set<L> | null

type Channel =
  | { kind: 'user'; listeners: Listeners<UserListener>; ready: Promise<void> }
  | { kind: 'topic'; listeners: Listeners<TopicListener>; ready: Promise<void> }

function addListener<L>(ch: { listeners: Listeners<L> }, listener: L): void {
  const l = ch.listeners
  if (l === null) ch.listeners = listener
  else if (l instanceof Set) l.add(listener)
  else if (l !== listener) ch.listeners = new Set([l, listener])
}

/** Whether the channel has no listener left. */
function removeListener<L>(ch: { listeners: Listeners<L> }, listener: L): boolean {
  const l = ch.listeners
  if (l instanceof Set) {
    l.delete(listener)
    if (l.size > 0) return false
    ch.listeners = null
  } else if (l === listener) ch.listeners = null
  return ch.listeners === null
}

const countOf = (l: Listeners<unknown>): number => (l === null ? 0 : l instanceof Set ? l.size : 1)

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
        if (listeners instanceof Set) for (const l of listeners) l(frame)
        else listeners?.(frame)
      }
      if (fanOut) fanOut('topic', meta, countOf(listeners), deliver)
      else deliver()
      return
    }
    const live = decodeLiveNotification(message)
    if (!live) return onError(new Error(`undecodable message on ${channelBuf.toString()}`))
    const listeners = ch.listeners
    const deliver = () => {
      if (listeners instanceof Set) for (const l of listeners) notifyListener(l, live)
      else if (listeners !== null) notifyListener(listeners, live)
    }
    // a revocation is no notification: not part of any event's delivery
    if (fanOut && live.revokedBefore === undefined) fanOut('user', live.meta, countOf(listeners), deliver)
    else deliver()
  })

  // One Redis: the SSUBSCRIBEs and SUNSUBSCRIBEs of one event-loop turn go out at its end, a run of
  // consecutive ones of the same kind as one command (one write per run, not one per connect in a
  // reconnect storm, issue 11, nor one per disconnect while a pod drains). ONE ordered queue, not a
  // batch per kind: commands on one connection run in the order they are written, so a leave then
  // re-join reaches Redis as SUNSUBSCRIBE then SSUBSCRIBE, never the reverse (which would leave the
  // channel unsubscribed with a listener). A Cluster takes one channel per command (its channels
  // must share a slot; users are spread over all of them), as before.
  interface Run {
    subscribe: boolean
    names: Set<string>
    ready: PromiseWithResolvers<void>
  }
  let queue: Run[] | null = null
  // The run holding each channel whose SSUBSCRIBE has not gone out yet, so a leave can take it back.
  const unsentSubscribes = new Map<string, Run>()

  function command(subscribe: boolean, names: string[]): Promise<void> {
    const sent = subscribe ? subscriber.ssubscribe(...names) : subscriber.sunsubscribe(...names)
    return sent.then(() => undefined)
  }

  function flush(): void {
    // During ioredis's handshake (status 'connect') it writes an (un)subscribe at once (they may run
    // while Redis loads): the reply puts the connection in subscriber mode before the ready check's
    // INFO, which then fails. So the queue waits for 'ready' ('end': ioredis rejects them), and one
    // more turn, for ioredis to write its offline queue first: those commands were issued earlier.
    if (subscriber.status === 'connect') {
      const retry = () => {
        subscriber.off('ready', retry).off('end', retry)
        setImmediate(flush)
      }
      subscriber.once('ready', retry).once('end', retry)
      return
    }
    const runs = queue!
    queue = null
    unsentSubscribes.clear()
    for (const run of runs) {
      if (run.names.size === 0) {
        run.ready.resolve()
        continue
      }
      const sent = command(run.subscribe, [...run.names])
      sent.then(run.ready.resolve, run.ready.reject)
    }
  }

  // While disconnected, straight to ioredis's offline queue, as before. Only while no queue is
  // pending though: a direct command would overtake the queued ones (of the same channel too).
  const sendsDirectly = () =>
    subscriber instanceof Cluster ||
    (!queue && subscriber.status !== 'ready' && subscriber.status !== 'connect')

  function enqueue(subscribe: boolean, name: string): Run {
    if (!queue) {
      queue = []
      setImmediate(flush)
    }
    let run = queue.at(-1)
    if (!run || run.subscribe !== subscribe) {
      run = { subscribe, names: new Set(), ready: Promise.withResolvers() }
      queue.push(run)
      // an unsubscribe run reports its failure once, however many channels it carries
      if (!subscribe) run.ready.promise.catch(onError)
    }
    run.names.add(name)
    if (subscribe) unsentSubscribes.set(name, run)
    return run
  }

  function subscribe<K extends Channel['kind']>(kind: K, name: string): Extract<Channel, { kind: K }> {
    let ch = channels.get(name)
    if (!ch) {
      const ready = sendsDirectly() ? command(true, [name]) : enqueue(true, name).ready.promise
      const created = { kind, listeners: null, ready } as Channel
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
    if (!removeListener(ch as { listeners: Listeners<unknown> }, listener)) return
    channels.delete(name)
    // Its SSUBSCRIBE not sent yet: taken out of its run, so nothing is sent for this channel.
    const unsent = unsentSubscribes.get(name)
    if (unsent) {
      unsent.names.delete(name)
      unsentSubscribes.delete(name)
      return
    }
    if (sendsDirectly()) command(false, [name]).catch(onError)
    else enqueue(false, name)
  }

  return {
    joinUser(userId, listener) {
      const ch = subscribe('user', userChannel(userId))
      addListener(ch, listener)
      return ch.ready
    },
    leaveUser: (userId, listener) => leave(userChannel(userId), listener),
    joinTopic(topic, listener) {
      const ch = subscribe('topic', topicChannel(topic))
      addListener(ch, listener)
      return ch.ready
    },
    leaveTopic: (topic, listener) => leave(topicChannel(topic), listener),
    get channelCount() {
      return channels.size
    },
  }
}
