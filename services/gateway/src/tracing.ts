// The gateway's part of an event's trace, and the age of what it delivers.
//
// Every notification arrives with the meta the dispatcher stored (packages/delivery meta.ts): the
// Kafka timestamp and the trace context of the dispatcher's span. From it the gateway
//  - observes `tidings_delivery_age_seconds{path}` (Kafka timestamp → socket write), tracing or not;
//  - with tracing on, records `deliver` spans in the event's trace: one per pod per live message
//    (whatever the number of its sockets there: a broadcast is one span per pod), one per
//    notification replayed from the inbox (WebSocket, SSE) or returned by GET /v1/inbox;
//  - records an `ack` span in the trace of the notification an ack names (acks are cumulative:
//    the earlier notifications it covers get no span of their own).
// Nothing of the meta is ever sent to an app: the frames are stripped in packages/delivery.
import {
  type Context,
  propagation,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  SpanStatusCode,
  type TextMapGetter,
  trace,
} from '@opentelemetry/api'
import type { DeliveryMeta, FanOut, InboxReader } from '@tidings/delivery'
import type { Histogram } from '@tidings/runtime'

export type DeliveryPath = 'live' | 'replay' | 'rest'
export const DELIVERY_PATHS: DeliveryPath[] = ['live', 'replay', 'rest']

export interface DeliveryTracing {
  /** For the channel router: runs a pod's fan-out of one pub/sub message (in a span when tracing). */
  fanOut: FanOut
  /** A frame was written to a client (socket, SSE stream or REST response). */
  delivered(meta: DeliveryMeta | undefined, path: DeliveryPath, seq: number, transport: string): void
  /** An ack, in the trace of the notification it names. */
  ack(
    store: InboxReader,
    userId: string,
    epoch: string | undefined,
    seq: number,
    transport: string,
  ): Promise<number>
}

const getter: TextMapGetter<DeliveryMeta> = {
  get: (meta, key) => (key === 'traceparent' ? meta.traceparent : undefined),
  keys: () => ['traceparent'],
}

/** The event's trace context, or none (the span then starts a trace of its own). */
function parentOf(meta: DeliveryMeta | undefined): Context {
  return meta?.traceparent ? propagation.extract(ROOT_CONTEXT, meta, getter) : ROOT_CONTEXT
}

export function createDeliveryTracing(opts: {
  /** The OpenTelemetry SDK runs in this process (runtime's tracingEnabled()). */
  enabled: boolean
  pod: string
  age: Histogram<'path'>
}): DeliveryTracing {
  const { age, pod } = opts
  // one child per path, looked up once: observing runs per socket write (the live hot path), where
  // prom-client would otherwise hash a fresh label object every time
  const ageOf: Record<DeliveryPath, { observe(v: number): void }> = {
    live: age.labels({ path: 'live' }),
    replay: age.labels({ path: 'replay' }),
    rest: age.labels({ path: 'rest' }),
  }
  const observeAge = (meta: DeliveryMeta | undefined, path: DeliveryPath): void => {
    if (meta?.producedAt !== undefined) ageOf[path].observe(Math.max(0, Date.now() - meta.producedAt) / 1000)
  }

  if (!opts.enabled) {
    return {
      fanOut: (_kind, _meta, _listeners, deliver) => deliver(),
      delivered: (meta, path) => observeAge(meta, path),
      ack: (store, userId, epoch, seq) => store.ack(userId, epoch, seq),
    }
  }

  const tracer = trace.getTracer('tidings-gateway')
  const podAttributes = { 'tidings.pod': pod }
  return {
    fanOut(kind, meta, listeners, deliver) {
      const span = tracer.startSpan(
        kind === 'user' ? 'deliver notification' : 'deliver broadcast',
        {
          kind: SpanKind.CONSUMER,
          attributes: { ...podAttributes, 'tidings.path': 'live', 'tidings.sessions': listeners },
        },
        parentOf(meta),
      )
      try {
        deliver()
      } catch (err) {
        fail(span, err)
        throw err
      } finally {
        span.end()
      }
    },
    delivered(meta, path, seq, transport) {
      observeAge(meta, path)
      // a live frame is inside its pod-level span already
      if (path === 'live') return
      tracer
        .startSpan(
          'deliver notification',
          {
            kind: SpanKind.CONSUMER,
            attributes: {
              ...podAttributes,
              'tidings.path': path,
              'tidings.seq': seq,
              'tidings.transport': transport,
            },
          },
          parentOf(meta),
        )
        .end()
    },
    async ack(store, userId, epoch, seq, transport) {
      // The parent is only known from the script's answer: the span starts before, is made after.
      const startTime = new Date()
      const result = await store.ackWithMeta(userId, epoch, seq)
      // an ack that moved nothing, or names a notification stored without a trace, joins no trace
      if (!result.meta?.traceparent) return result.acked
      tracer
        .startSpan(
          'ack',
          {
            kind: SpanKind.SERVER,
            startTime,
            attributes: {
              ...podAttributes,
              'tidings.seq': seq,
              'tidings.acked': result.acked,
              'tidings.transport': transport,
            },
          },
          parentOf(result.meta),
        )
        .end()
      return result.acked
    },
  }
}

function fail(span: Span, err: unknown): void {
  span.recordException(err as Error)
  span.setStatus({ code: SpanStatusCode.ERROR, message: (err as Error).message })
}
