// Broadcast topics: the set the app asked for, joined on every connection (WebSocket only: SSE is
// receive-only, so topics are joined again when the WebSocket is back).
import type { Transport } from './transport.ts'
import { TOPIC_PATTERN } from './wire.ts'

const topicRe = new RegExp(TOPIC_PATTERN)

/** Throws a TypeError for a name the gateway would refuse. */
export function checkTopic(topic: string): void {
  if (!topicRe.test(topic)) throw new TypeError(`invalid topic name: ${topic}`)
}

export interface Topics {
  list(): string[]
  /** Remembers `topic` and joins it now on `live` (the session's WebSocket, if there is one). */
  subscribe(topic: string, live: Transport | undefined): void
  unsubscribe(topic: string, live: Transport | undefined): void
  /** A session opened on `live`: join every topic. */
  joinAll(live: Transport | undefined): void
}

export function createTopics(initial: readonly string[]): Topics {
  const names = new Set(initial)
  return {
    list: () => [...names],
    subscribe(topic, live) {
      checkTopic(topic)
      if (names.has(topic)) return
      names.add(topic)
      live?.send({ type: 'subscribe', topic })
    },
    unsubscribe(topic, live) {
      if (!names.delete(topic)) return
      live?.send({ type: 'unsubscribe', topic })
    },
    joinAll(live) {
      if (live) for (const topic of names) live.send({ type: 'subscribe', topic })
    },
  }
}
