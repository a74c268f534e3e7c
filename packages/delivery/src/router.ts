import type { LiveNotification } from './live-message.ts'
import type { DeliveryMeta } from './meta.ts'

/**
 * A function, or an object with a `live` method: a pod holds one listener per socket, and the
 * socket's own object costs nothing more, where a bound function is a closure and its context each.
 */
export type UserListener = ((message: LiveNotification) => void) | LiveReceiver
export interface LiveReceiver {
  live(message: LiveNotification): void
}

/** Calls a user listener, whichever its form. */
export function notifyListener(listener: UserListener, message: LiveNotification): void {
  if (typeof listener === 'function') listener(message)
  else listener.live(message)
}
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
 * Routes a user's (or a topic's) live messages to in-process listeners. Implementations: Redis
 * sharded pub/sub (router-redis.ts), one process (router-memory.ts).
 *
 * Redis: routes sharded pub/sub to in-process listeners. A pod subscribes to a user's (or a
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
