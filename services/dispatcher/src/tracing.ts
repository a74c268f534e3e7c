// One Kafka record's part of its event's trace, and what the dispatcher stores for the gateway.
//
// The record's W3C `traceparent` header (set by the producer helpers of @tidings/contracts, or any
// OpenTelemetry-instrumented producer) is the parent of a `process <topic>` consumer span; a record
// without one starts a trace here. The Redis write runs inside that span (the ioredis span is its
// child), and the span's context is stored with the notification (packages/delivery meta), so the
// gateway's deliver and ack spans join the same trace. With tracing off nothing is started, but a
// valid incoming traceparent is still passed on: a gateway that traces joins the producer's trace.
//
// Headers come from anywhere (Java producers, Kafka Connect, replays from the DLQ): a header value
// may be a string, a Buffer (binary), an array (the same key twice) or null; headers.ts reads them.
// None of that may fail a record; a traceparent that is not well-formed is simply not used.
import {
  type Context,
  context,
  propagation,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  SpanStatusCode,
  type TextMapGetter,
  trace,
} from '@opentelemetry/api'
import { type DeliveryMeta, isTraceparent } from '@tidings/delivery'
import type { Histogram } from '@tidings/runtime'
import type { IHeaders, KafkaMessage } from 'kafkajs'
import { readHeaders } from './headers.ts'

/** The trace of one record, from the moment it is prepared until it is stored or dead-lettered. */
export interface RecordTrace {
  /** Stored with the notification; never sent to apps. */
  readonly meta: DeliveryMeta
  /** Runs `fn` with the record's span active (its Redis commands become children). */
  run<T>(fn: () => Promise<T>): Promise<T>
  /** Ends the span once; `outcome` is `delivered`, `duplicate`, `dead_letter` or `released`. */
  end(outcome: string, detail?: string): void
}

export interface RecordTracer {
  start(message: KafkaMessage, topic: string, partition: number): RecordTrace
}

/** A header's text (headers.ts: the first non-null value of the name, any case), or undefined. */
function headerText(headers: IHeaders | undefined, name: string): string | undefined {
  const h = readHeaders(headers).get(name)
  return h?.ok ? h.text : undefined
}

/** The producer's trace context from the record's headers, when it is well-formed. */
export function incomingTraceparent(headers: IHeaders | undefined): string | undefined {
  const value = headerText(headers, 'traceparent')?.trim()
  return value !== undefined && isTraceparent(value) ? value : undefined
}

/** The Kafka timestamp (ms), when it is a plausible one (producers may send anything, even -1). */
export function recordTimestamp(message: Pick<KafkaMessage, 'timestamp'>): number | undefined {
  const ts = Number(message.timestamp)
  return Number.isSafeInteger(ts) && ts > 0 ? ts : undefined
}

const carrierGetter: TextMapGetter<Record<string, string>> = {
  get: (carrier, key) => carrier[key],
  keys: (carrier) => Object.keys(carrier),
}

const untraced = <T>(fn: () => Promise<T>): Promise<T> => fn()
const nothing = (): void => {}

/**
 * `enabled`: the OpenTelemetry SDK runs in this process (runtime's tracingEnabled()). `eventAge`
 * observes each record's age (Kafka timestamp → now) as it is read, tracing or not.
 */
export function createRecordTracer(enabled: boolean, eventAge?: Histogram<'topic'>): RecordTracer {
  // one child per topic: observe({ topic }, v) would look the labels up for every record
  const ages = new Map<string, { observe(seconds: number): void }>()
  const observe = (producedAt: number | undefined, topic: string): void => {
    if (!eventAge || producedAt === undefined) return
    let age = ages.get(topic)
    if (!age) {
      age = eventAge.labels({ topic })
      ages.set(topic, age)
    }
    age.observe(Math.max(0, Date.now() - producedAt) / 1000)
  }
  if (!enabled) {
    return {
      start(message, topic) {
        const meta: DeliveryMeta = {}
        const producedAt = recordTimestamp(message)
        observe(producedAt, topic)
        if (producedAt !== undefined) meta.producedAt = producedAt
        const traceparent = incomingTraceparent(message.headers)
        if (traceparent !== undefined) meta.traceparent = traceparent
        return { meta, run: untraced, end: nothing }
      },
    }
  }

  const tracer = trace.getTracer('tidings-dispatcher')
  return {
    start(message, topic, partition) {
      const producedAt = recordTimestamp(message)
      observe(producedAt, topic)
      const traceparent = incomingTraceparent(message.headers)
      let parent: Context = ROOT_CONTEXT
      if (traceparent !== undefined) {
        const carrier: Record<string, string> = { traceparent }
        const tracestate = headerText(message.headers, 'tracestate')
        if (tracestate !== undefined) carrier.tracestate = tracestate
        parent = propagation.extract(ROOT_CONTEXT, carrier, carrierGetter)
      }
      const span: Span = tracer.startSpan(
        `process ${topic}`,
        {
          kind: SpanKind.CONSUMER,
          attributes: {
            'messaging.system': 'kafka',
            'messaging.operation.type': 'process',
            'messaging.destination.name': topic,
            'messaging.destination.partition.id': String(partition),
            'messaging.kafka.offset': Number(message.offset),
            'messaging.kafka.message.key': message.key?.toString('utf8') ?? '',
          },
        },
        parent,
      )
      const active = trace.setSpan(ROOT_CONTEXT, span)
      const out: Record<string, string> = {}
      propagation.inject(active, out)
      const meta: DeliveryMeta = {}
      if (producedAt !== undefined) meta.producedAt = producedAt
      if (out.traceparent !== undefined) meta.traceparent = out.traceparent
      let ended = false
      return {
        meta,
        run: (fn) => context.with(active, fn),
        end(outcome, detail) {
          if (ended) return
          ended = true
          span.setAttribute('tidings.outcome', outcome)
          if (outcome === 'dead_letter') {
            span.setStatus({ code: SpanStatusCode.ERROR, message: detail ?? outcome })
            if (detail !== undefined) span.setAttribute('tidings.dead_letter.reason', detail)
          }
          span.end()
        },
      }
    },
  }
}
