// Producer helpers for backend services: typed builders that turn what a developer knows into a
// validated Kafka record for `loan.decisions` / `notifications.requested` (docs/protocol.md §2), an
// optional CloudEvents binary-mode variant, and a thin wrapper around a kafkajs producer.
//
// kafkajs is imported for its TYPES only: the caller brings (and connects) its own producer, so this
// package has no runtime kafkajs dependency (it is an optional peer dependency).
import { context, propagation, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api'
import type { TSchema } from '@sinclair/typebox'
import { Value } from '@sinclair/typebox/value'
import type { Producer, TopicMessages } from 'kafkajs'
import {
  CLOUDEVENT_TYPES,
  LOAN_DECISIONS,
  LOCALES,
  type LoanDecision,
  LoanDecisionEvent,
  type Locale,
  type Money,
  NotificationRequestedEvent,
  TOPICS,
} from './events.ts'
import { type Validation, validateLoanDecision, validateNotificationRequested } from './validate.ts'

/** The CloudEvents `type` of an event, also sent as the `tidings-event-type` header. */
export type EventType = (typeof CLOUDEVENT_TYPES)[keyof typeof CLOUDEVENT_TYPES]

/** Header naming the event type on plain-JSON records (informational: the dispatcher goes by topic). */
export const EVENT_TYPE_HEADER = 'tidings-event-type'

/** Fields every builder fills when they are not given. */
export interface EventMeta {
  /**
   * Dedupe key (per topic, default window 24 h). Default: `crypto.randomUUID()`. A retried send must
   * reuse the same eventId, or the user gets the notification twice; an id derived from the domain
   * (e.g. `loan-L-77-decision-3`) makes even a re-run of the whole business operation safe.
   */
  eventId?: string
  /** When it happened. Default: now. A Date is sent as ISO-8601 UTC; a string must be RFC 3339. */
  occurredAt?: Date | string
}

/** What a backend knows about a loan decision. */
export interface LoanDecisionInput extends EventMeta {
  /** The user id of the borrower: receives the notification and is the Kafka key. */
  borrowerId: string
  loanId: string
  decision: LoanDecision
  amount?: Money | null
  reasonCode?: string | null
  /** Language of the notification's text; default (and fallback) `en`. */
  locale?: Locale | null
}

/** Fields of a `notifications.requested` event, for one user or a broadcast topic. */
export interface NotificationContent extends EventMeta {
  /** `[a-z0-9][a-z0-9._-]{0,63}`, e.g. `document.requested`. */
  kind: string
  title: string
  body: string
  /** Passed to the app as is: keep it a small DTO (ids, not domain objects). */
  data?: Record<string, unknown>
}

/** A notification for one user: kept in the user's inbox and replayed on reconnect. */
export interface UserNotificationInput extends NotificationContent {
  /** The receiving user: also the Kafka key. */
  userId: string
}

/** A live message to everyone subscribed to a broadcast topic (not kept for offline users). */
export interface BroadcastInput extends NotificationContent {
  /** The broadcast topic (e.g. `announcements`): also the Kafka key. Not the Kafka topic. */
  topic: string
}

export interface BuildOptions {
  /** Kafka topic to send to. Default: `TOPICS.loanDecisions` / `TOPICS.notificationsRequested`. */
  kafkaTopic?: string
}

/**
 * A validated event, ready for Kafka: `{ topic, key, value, headers }`, plus the metadata a caller needs
 * for logs and retries. kafkajs ignores the extra fields, so the object can be passed as a message.
 */
export interface BuiltEvent {
  readonly type: EventType
  readonly eventId: string
  readonly occurredAt: string
  /** Kafka topic. */
  readonly topic: string
  /** Kafka key: the user id (borrowerId / userId), or the broadcast topic name for a broadcast. */
  readonly key: string
  /** The event as UTF-8 JSON, with only the fields of the contract. */
  readonly value: string
  readonly headers: Readonly<Record<string, string>>
}

/** Thrown by the builders: `field` names what is wrong (`amount.currency`), `''` for the whole event. */
export class InvalidEventError extends Error {
  override readonly name = 'InvalidEventError'
  readonly eventType: EventType
  readonly field: string
  readonly reason: string

  constructor(eventType: EventType, field: string, reason: string) {
    super(`invalid ${eventType} event: ${field || '(event)'}: ${reason}`)
    this.eventType = eventType
    this.field = field
    this.reason = reason
  }
}

// ---------------------------------------------------------------------------------------------------
// Builders

/** A `loan.decisions` record for one borrower. Throws InvalidEventError. */
export function loanDecision(input: LoanDecisionInput, opts: BuildOptions = {}): BuiltEvent {
  const type = CLOUDEVENT_TYPES.loanDecision
  const { eventId, occurredAt } = meta(type, input)
  // Only the contract's fields, picked one by one: nothing else of the caller's object is forwarded.
  const event = withoutUndefined({
    eventId,
    occurredAt,
    borrowerId: input.borrowerId,
    loanId: input.loanId,
    decision: input.decision,
    amount: input.amount,
    reasonCode: input.reasonCode,
    locale: input.locale,
  })
  const value = serialize(type, event)
  check(type, LoanDecisionEvent, validateLoanDecision(JSON.parse(value)), event, '')
  // The schema accepts any decision (an unknown one is an `unmapped` dead letter); a builder refuses it.
  if (!(LOAN_DECISIONS as readonly string[]).includes(input.decision)) {
    throw new InvalidEventError(
      type,
      'decision',
      `${JSON.stringify(input.decision)} is not one of ${LOAN_DECISIONS.join(', ')} (the dispatcher would dead-letter it as unmapped)`,
    )
  }
  if (input.locale != null && !(LOCALES as readonly string[]).includes(input.locale)) {
    throw new InvalidEventError(
      type,
      'locale',
      `${JSON.stringify(input.locale)} is not one of ${LOCALES.join(', ')} (the dispatcher would fall back to en)`,
    )
  }
  return built(type, opts.kafkaTopic ?? TOPICS.loanDecisions, input.borrowerId, eventId, occurredAt, value)
}

/** A `notifications.requested` record for one user. Throws InvalidEventError. */
export function notificationForUser(input: UserNotificationInput, opts: BuildOptions = {}): BuiltEvent {
  return requested({ userId: input.userId }, 'userId', input, opts)
}

/** A `notifications.requested` record for a broadcast topic. Throws InvalidEventError. */
export function broadcast(input: BroadcastInput, opts: BuildOptions = {}): BuiltEvent {
  return requested({ topic: input.topic }, 'topic', input, opts)
}

function requested(
  target: { userId: string } | { topic: string },
  field: 'userId' | 'topic',
  input: NotificationContent,
  opts: BuildOptions,
): BuiltEvent {
  const type = CLOUDEVENT_TYPES.notificationRequested
  const { eventId, occurredAt } = meta(type, input)
  const event = withoutUndefined({
    eventId,
    occurredAt,
    ...target,
    kind: input.kind,
    title: input.title,
    body: input.body,
    data: input.data,
  })
  const value = serialize(type, event)
  check(type, NotificationRequestedEvent, validateNotificationRequested(JSON.parse(value)), event, field)
  const key = field === 'userId' ? (event.userId as string) : (event.topic as string)
  return built(type, opts.kafkaTopic ?? TOPICS.notificationsRequested, key, eventId, occurredAt, value)
}

function meta(type: EventType, input: EventMeta): { eventId: string; occurredAt: string } {
  const eventId = input.eventId ?? crypto.randomUUID()
  let occurredAt: string
  if (input.occurredAt === undefined) {
    occurredAt = new Date().toISOString()
  } else if (input.occurredAt instanceof Date) {
    if (Number.isNaN(input.occurredAt.getTime())) {
      throw new InvalidEventError(type, 'occurredAt', 'is an invalid Date')
    }
    occurredAt = input.occurredAt.toISOString()
  } else {
    occurredAt = input.occurredAt
  }
  return { eventId, occurredAt }
}

function withoutUndefined(obj: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(obj).filter(([, v]) => v !== undefined))
}

function serialize(type: EventType, event: Record<string, unknown>): string {
  try {
    return JSON.stringify(event)
  } catch (err) {
    // BigInt or a cycle: only `data` can hold those
    throw new InvalidEventError(type, 'data', `is not serializable as JSON: ${(err as Error).message}`)
  }
}

/**
 * Turns a validator failure ("/amount: Expected union value") into an InvalidEventError naming the
 * field. For `x | null` fields the message of the non-null variant is used, which says what is wrong.
 */
function check<T>(
  type: EventType,
  schema: TSchema,
  res: Validation<T>,
  event: Record<string, unknown>,
  exactlyOneField: string,
): void {
  if (res.ok) return
  if (/exactly one of/.test(res.message)) throw new InvalidEventError(type, exactlyOneField, 'is required')
  const m = /^(\/[^:]*|\(root\)): (.*)$/s.exec(res.message)
  if (!m) throw new InvalidEventError(type, '', res.message)
  const path = m[1] === '(root)' ? '' : (m[1] ?? '')
  let field = pointerToField(path)
  let reason = m[2] ?? res.message
  const top = path.split('/')[1]
  const prop = top === undefined ? undefined : propertySchema(schema, top)
  const variants = prop?.anyOf
  if (top !== undefined && Array.isArray(variants) && path === `/${top}`) {
    const value = JSON.parse(JSON.stringify(event[top] ?? null)) as unknown
    for (const variant of variants as TSchema[]) {
      if (variant.type === 'null') continue
      const first = Value.Errors(variant, value).First()
      if (first) {
        field = pointerToField(`/${top}${first.path}`)
        reason = first.message
        break
      }
    }
  }
  throw new InvalidEventError(type, field, reason)
}

function propertySchema(schema: TSchema, name: string): TSchema | undefined {
  const props = schema.properties as Record<string, TSchema> | undefined
  return props && Object.hasOwn(props, name) ? props[name] : undefined
}

/** `/amount/currency` → `amount.currency` (JSON pointer escapes undone). */
function pointerToField(pointer: string): string {
  return pointer
    .split('/')
    .slice(1)
    .map((p) => p.replaceAll('~1', '/').replaceAll('~0', '~'))
    .join('.')
}

function built(
  type: EventType,
  topic: string,
  key: string,
  eventId: string,
  occurredAt: string,
  value: string,
): BuiltEvent {
  return Object.freeze({
    type,
    eventId,
    occurredAt,
    topic,
    key,
    value,
    headers: Object.freeze({ 'content-type': 'application/json', [EVENT_TYPE_HEADER]: type }),
  })
}

// ---------------------------------------------------------------------------------------------------
// CloudEvents 1.0, Kafka protocol binding, binary mode

export interface CloudEventOptions {
  /** CloudEvents `source`: a URI-reference naming the producer, e.g. `/loans/decision-service`. */
  source: string
}

/**
 * The same record in CloudEvents binary mode: the value (the event object) is unchanged, the headers
 * become `ce_specversion`, `ce_id` (= eventId), `ce_source`, `ce_type`, `ce_time` (= occurredAt) and
 * `content-type: application/json` (the data's content type).
 */
export function toCloudEvent(event: BuiltEvent, opts: CloudEventOptions): BuiltEvent {
  if (typeof opts.source !== 'string' || opts.source.length === 0) {
    throw new InvalidEventError(event.type, 'source', 'the CloudEvents source must be a non-empty string')
  }
  return Object.freeze({
    ...event,
    headers: Object.freeze({
      'content-type': 'application/json',
      ce_specversion: '1.0',
      ce_id: event.eventId,
      ce_source: opts.source,
      ce_type: event.type,
      ce_time: event.occurredAt,
    }),
  })
}

// ---------------------------------------------------------------------------------------------------
// kafkajs wrapper

/** What the wrapper needs of kafkajs: a `Producer`, or a `Transaction` from `producer.transaction()`. */
export type EventSender = Pick<Producer, 'send' | 'sendBatch'>

export interface EventProducerOptions {
  /** Kafka topic names used by the convenience methods. Default: `TOPICS`. */
  topics?: { loanDecisions?: string; notificationsRequested?: string }
  /** Send every event in CloudEvents binary mode with this `source`. Default: plain JSON. */
  cloudEvents?: CloudEventOptions
}

export interface EventProducer {
  /** Builds, validates and sends a loan decision; resolves to its eventId once all replicas have it. */
  loanDecision(input: LoanDecisionInput): Promise<string>
  /** Builds, validates and sends a notification for one user; resolves to its eventId. */
  notifyUser(input: UserNotificationInput): Promise<string>
  /** Builds, validates and sends a broadcast; resolves to its eventId. */
  broadcast(input: BroadcastInput): Promise<string>
  /** Sends an event made by a builder (to `event.topic`); resending it after a failure is safe. */
  send(event: BuiltEvent): Promise<string>
  /** Sends events made by the builders in one request; resolves to their eventIds, in order. */
  sendMany(events: readonly BuiltEvent[]): Promise<string[]>
}

// Only the OpenTelemetry API (no SDK): without a registered SDK in the caller's process every call
// below is a no-op, and nothing is added to the headers.
const tracer = trace.getTracer('@tidings/contracts')

/**
 * Wraps a connected kafkajs producer (the caller owns its life cycle: connect, disconnect). Every send
 * uses `acks: -1` (all in-sync replicas). The builders validate, so an invalid input rejects with
 * InvalidEventError and nothing is sent.
 *
 * Tracing: when the caller's process runs an OpenTelemetry SDK, each event gets a `send <topic>`
 * producer span (a child of the caller's active span) and its W3C `traceparent` (and `tracestate`)
 * in the record's headers; the dispatcher continues that trace.
 */
export function createEventProducer(producer: EventSender, opts: EventProducerOptions = {}): EventProducer {
  const loanTopic = opts.topics?.loanDecisions ?? TOPICS.loanDecisions
  const requestedTopic = opts.topics?.notificationsRequested ?? TOPICS.notificationsRequested
  const ce = opts.cloudEvents
  if (ce !== undefined && (typeof ce.source !== 'string' || ce.source.length === 0)) {
    throw new TypeError('cloudEvents.source must be a non-empty string')
  }

  const sendMany = async (events: readonly BuiltEvent[]): Promise<string[]> => {
    if (events.length === 0) return []
    const byTopic = new Map<string, TopicMessages>()
    const spans = []
    for (const e of events) {
      const out = ce !== undefined && !('ce_specversion' in e.headers) ? toCloudEvent(e, ce) : e
      let entry = byTopic.get(out.topic)
      if (!entry) {
        entry = { topic: out.topic, messages: [] }
        byTopic.set(out.topic, entry)
      }
      const span = tracer.startSpan(`send ${out.topic}`, {
        kind: SpanKind.PRODUCER,
        attributes: {
          'messaging.system': 'kafka',
          'messaging.operation.type': 'send',
          'messaging.destination.name': out.topic,
          'messaging.message.id': out.eventId,
          'tidings.event.type': out.type,
        },
      })
      spans.push(span)
      const headers: Record<string, string> = { ...out.headers }
      propagation.inject(trace.setSpan(context.active(), span), headers)
      entry.messages.push({ key: out.key, value: out.value, headers })
    }
    try {
      await producer.sendBatch({ acks: -1, topicMessages: [...byTopic.values()] })
    } catch (err) {
      for (const span of spans) {
        span.recordException(err as Error)
        span.setStatus({ code: SpanStatusCode.ERROR, message: (err as Error).message })
      }
      throw err
    } finally {
      for (const span of spans) span.end()
    }
    return events.map((e) => e.eventId)
  }
  const send = async (event: BuiltEvent): Promise<string> => {
    const [id] = await sendMany([event])
    return id as string
  }

  return {
    loanDecision: async (input) => send(loanDecision(input, { kafkaTopic: loanTopic })),
    notifyUser: async (input) => send(notificationForUser(input, { kafkaTopic: requestedTopic })),
    broadcast: async (input) => send(broadcast(input, { kafkaTopic: requestedTopic })),
    send,
    sendMany,
  }
}
