import type { LiveNotification } from './live-message.ts'
import { type ChannelRouter, notifyListener, type TopicListener, type UserListener } from './router.ts'

/** The router of one process, and what publishes into it (in Redis: the deliver and revoke scripts). */
export interface MemoryRouter extends ChannelRouter {
  publishToUser(userId: string, message: LiveNotification): void
  publishToTopic(topic: string, frame: Buffer): void
}

/**
 * Live routing inside one process (unit tests, a single-process development gateway): a join
 * is confirmed at once, a publish reaches the listeners joined at that moment, synchronously.
 */
export function createMemoryRouter(): MemoryRouter {
  const users = new Map<string, Set<UserListener>>()
  const topics = new Map<string, Set<TopicListener>>()
  const join = <L>(map: Map<string, Set<L>>, name: string, listener: L): Promise<void> => {
    let listeners = map.get(name)
    if (!listeners) {
      listeners = new Set()
      map.set(name, listeners)
    }
    listeners.add(listener)
    return Promise.resolve()
  }
  const leave = <L>(map: Map<string, Set<L>>, name: string, listener: L): void => {
    const listeners = map.get(name)
    if (listeners?.delete(listener) && listeners.size === 0) map.delete(name)
  }
  return {
    joinUser: (userId, listener) => join(users, userId, listener),
    leaveUser: (userId, listener) => leave(users, userId, listener),
    joinTopic: (topic, listener) => join(topics, topic, listener),
    leaveTopic: (topic, listener) => leave(topics, topic, listener),
    get channelCount() {
      return users.size + topics.size
    },
    publishToUser(userId, message) {
      for (const l of [...(users.get(userId) ?? [])]) notifyListener(l, message)
    },
    publishToTopic(topic, frame) {
      for (const l of [...(topics.get(topic) ?? [])]) l(frame)
    },
  }
}
