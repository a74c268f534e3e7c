import type { IncomingMessage } from 'node:http'
import { context, propagation, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api'
import { WS_PATH } from '@tidings/contracts'

const tracer = trace.getTracer('@tidings/gateway')

/** The span of one WebSocket handshake (startHandshakeSpan). */
export interface HandshakeSpan {
  /** Runs `fn` inside the span: the Redis commands of the checks and of the session's start are its children. */
  run<T>(fn: () => T): T
  /** The answer: 101, a refusal's status, or undefined when ws refused the handshake itself. */
  end(statusCode: number | undefined): void
}

/**
 * The `GET /v1/ws` span that @fastify/otel made while Fastify answered the handshake (README: HTTP
 * requests are traced), now that ws-upgrade.ts answers it before Fastify: a SERVER span continuing
 * the client's `traceparent`, with the status of the answer. The caller makes one only when tracing
 * is on, so the connect path costs nothing more otherwise.
 */
export function startHandshakeSpan(req: IncomingMessage): HandshakeSpan {
  const parent = propagation.extract(context.active(), req.headers)
  const span = tracer.startSpan(
    `GET ${WS_PATH}`,
    {
      kind: SpanKind.SERVER,
      attributes: { 'http.request.method': 'GET', 'http.route': WS_PATH, 'url.path': WS_PATH },
    },
    parent,
  )
  const inside = trace.setSpan(parent, span)
  return {
    run: (fn) => context.with(inside, fn),
    end(statusCode) {
      if (statusCode !== undefined) {
        span.setAttribute('http.response.status_code', statusCode)
        if (statusCode >= 500) span.setStatus({ code: SpanStatusCode.ERROR })
      }
      span.end()
    },
  }
}
