// The SDK's entry point: `createTidingsClient` wires the parts together behind the public API.
// options.ts resolves the options; connection.ts runs the connection loop (failover.ts picks gateway
// and transport, retry-schedule.ts the delay, watchdog.ts watches the heartbeat, token.ts holds the
// token); dispatch.ts routes frames; delivery-queue.ts hands notifications to the app in order and
// advances the resume position (resume.ts), which acks.ts acknowledges.
import { createConnection } from './connection.ts'
import { createDeliveryQueue } from './delivery-queue.ts'
import { frameDispatcher } from './dispatch.ts'
import { Emitter } from './emitter.ts'
import { TidingsError } from './errors.ts'
import type { ConnectionState, SessionInfo, TidingsEvents } from './events.ts'
import { resolveOptions, type TidingsClientOptions } from './options.ts'
import { createResumePosition } from './resume.ts'
import { createTopics } from './topics.ts'

export type { ConnectionState, MissedEvent, SessionInfo, StateEvent, TidingsEvents } from './events.ts'
export type { SseOptions, TidingsClientOptions } from './options.ts'
export type { TokenReason } from './token.ts'

export interface TidingsClient {
  readonly state: ConnectionState
  /** The live session, while `state` is `open`. */
  readonly session: SessionInfo | undefined
  readonly topics: readonly string[]
  /** Adds a listener; returns the function that removes it. */
  on<K extends keyof TidingsEvents>(event: K, listener: (payload: TidingsEvents[K]) => unknown): () => void
  /** Starts connecting (and reconnecting). Resolves on the first `welcome`; rejects if `close()` comes first. */
  connect(): Promise<void>
  /** Acks what was handled, closes, stops reconnecting and waits for storage writes. */
  close(): Promise<void>
  /** Joins a broadcast topic now (if connected) and after every reconnect. */
  subscribe(topic: string): void
  unsubscribe(topic: string): void
  /** Sends an app-level `ping`; resolves with the round trip in ms. WebSocket only. */
  ping(): Promise<number>
  /**
   * Waits for the notifications already received to be handled, acks them now and waits for
   * storage writes (e.g. when the app goes to the background).
   */
  flush(): Promise<void>
  /** While waiting to reconnect, try now (e.g. the device came back online). */
  reconnect(): void
  /** Forgets the resume position (call it on logout); the next connection starts from the inbox. */
  resetResume(): Promise<void>
}

export function createTidingsClient(options: TidingsClientOptions): TidingsClient {
  const opts = resolveOptions(options)
  const emitter = new Emitter<TidingsEvents>((error, event) => {
    if (event !== 'error')
      report(new TidingsError('handler', `a '${String(event)}' listener threw`, { cause: error }))
  })
  const report = (error: TidingsError): void => {
    void emitter.emit('error', error)
  }
  const resume = createResumePosition(opts.storage, report)
  // `dispatch` and `delivery` are created below: the connection calls these only once it is connected.
  const connection = createConnection(opts, {
    emitter,
    report,
    resume,
    frame: (frame, gen) => dispatch(frame, gen),
    stopped: () => delivery.dropPending(),
  })
  const delivery = createDeliveryQueue({
    resume,
    acks: connection.acks,
    emitter,
    report,
    onNotification: opts.onNotification,
    link: connection,
    dedupeSize: opts.dedupeSize,
  })
  const topics = createTopics(opts.topics)
  const dispatch = frameDispatcher({ connection, delivery, resume, topics, report })

  return {
    get state() {
      return connection.state
    },
    get session() {
      const session = connection.session
      return session && connection.state === 'open' ? { ...session } : undefined
    },
    get topics() {
      return topics.list()
    },
    on: (event, listener) => emitter.on(event, listener),
    connect: () => connection.connect(),
    close: () =>
      connection.shutdown('client', new TidingsError('transport', 'closed before the connection opened')),
    subscribe: (topic) => topics.subscribe(topic, connection.liveWebSocket),
    unsubscribe: (topic) => topics.unsubscribe(topic, connection.liveWebSocket),
    ping: () => connection.ping(),
    async flush() {
      await delivery.idle
      connection.acks.flush()
      await connection.settled()
    },
    reconnect: () => connection.reconnectNow(),
    async resetResume() {
      resume.forget()
      connection.acks.reset()
      delivery.forgetSeen()
      await connection.settled()
    },
  }
}
