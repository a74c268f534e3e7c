// Broadcast topics: the set the app asked for, joined on every connection (WebSocket only: SSE is
// receive-only, so topics are joined again when the WebSocket is back).
import type { Transport } from './transport.ts'
import { TOPIC_PATTERN } from './wire.ts'

const topicRe = new RegExp(TOPIC_PATTERN)

/** Throws a TypeError for a name the gateway would refuse. */
export function checkTopic(topic: string): void {
  if (!topicRe.test(topic)) throw new TypeError(`invalid topic name: ${topic}`)
}

export class Topics {
  private readonly names: Set<string>

  constructor(initial: readonly string[]) {
    this.names = new Set(initial)
  }

  list(): string[] {
    return [...this.names]
  }

  /** Remembers `topic` and joins it now on `live` (the session's WebSocket, if there is one). */
  subscribe(topic: string, live: Transport | undefined): void {
    checkTopic(topic)
    if (this.names.has(topic)) return
    this.names.add(topic)
    live?.send({ type: 'subscribe', topic })
  }

  unsubscribe(topic: string, live: Transport | undefined): void {
    if (!this.names.delete(topic)) return
    live?.send({ type: 'unsubscribe', topic })
  }

  /** A session opened on `live`: join every topic. */
  joinAll(live: Transport | undefined): void {
    if (live) for (const topic of this.names) live.send({ type: 'subscribe', topic })
  }
}
