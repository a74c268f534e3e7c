import type { ServerResponse } from 'node:http'
import type { SseCloseFrame } from '@tidings/contracts'
import type { FastifyInstance } from 'fastify'
import type { Hub } from './hub.ts'
import type { PodContext } from './pod.ts'
import type { RequestAuthenticator } from './request-auth.ts'
import { parseLastEventId, parseResumeQuery } from './resume.ts'
import type { Transport } from './transport.ts'

// The keep-alive is an unsolicited `pong` event, not an SSE comment: a native EventSource (and the
// React Native polyfills the SDK falls back to) never shows comments to the page, so an idle stream
// looked dead to the SDK's watchdog after two heartbeats. Every SDK already treats a `pong` as
// traffic and answers nothing to it.
const SSE_KEEPALIVE = 'event: pong\ndata: {"type":"pong"}\n\n'

// How long EventSource waits before reconnecting on its own after the stream ends (the `retry:`
// line sent first). A draining pod also sends `reconnect{afterMs}`; EventSource cannot honour
// that, our SDK does.
export const SSE_RETRY_MS = 2000

/**
 * Server-Sent Events: the same frames as the WebSocket, `event:` = the frame type, `data:` = the
 * JSON, `id:` = `epoch:seq` on notifications so EventSource resumes with Last-Event-ID. JSON
 * never contains a raw newline, so one `data:` line per frame is always enough. Headers are
 * sent with the first frame (after admission), so a refusal can still be an HTTP status.
 */
function sseTransport(res: ServerResponse, origin: string | undefined, closeTimeoutMs: number): Transport {
  let started = false
  let flushed = true
  // Headers written after the hijack (the stream's, or a refusal's) carry CORS themselves: fastify's
  // hook no longer runs, and a browser shows a refusal without them as a network error (§11.4).
  const cors = (headers: Record<string, string>): Record<string, string> => {
    if (origin) {
      headers['access-control-allow-origin'] = origin
      headers.vary = 'Origin'
    }
    return headers
  }
  const start = () => {
    if (started) return
    started = true
    const headers = cors({
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      connection: 'keep-alive',
      // proxies (nginx ingress) must not buffer the stream
      'x-accel-buffering': 'no',
    })
    res.writeHead(200, headers)
    res.write(`retry: ${SSE_RETRY_MS}\n\n`)
  }
  // One chunk per event: a frame written just before close() must not sit in a cork buffer
  // that end() throws away. SSE is the fallback path, so the per-session string is fine.
  const write = (head: string, body: Buffer | string) => {
    if (res.writableEnded || res.destroyed) return
    start()
    res.write(`${head}${typeof body === 'string' ? body : body.toString('utf8')}\n\n`)
  }
  return {
    kind: 'sse',
    notification: (frame, seq, epoch) => write(`event: notification\nid: ${epoch}:${seq}\ndata: `, frame),
    broadcast: (frame) => write('event: broadcast\ndata: ', frame),
    control: (type, json) => write(`event: ${type}\ndata: `, json),
    close(why) {
      if (res.writableEnded || res.destroyed) return
      if (!started) {
        const err = why.refusal()
        res.writeHead(err.statusCode, cors({ 'content-type': 'application/json' }))
        res.end(JSON.stringify({ statusCode: err.statusCode, code: err.code, message: err.message }))
        return
      }
      // What a WebSocket close frame would say (4003 revoked, 4001 expired, 1013, 1012…): the
      // SDK acts on the code; EventSource ignores an event type it does not listen to.
      const frame: SseCloseFrame = { type: 'close', code: why.code, reason: why.reason }
      res.end(`event: close\ndata: ${JSON.stringify(frame)}\n\n`)
      // A peer that does not read keeps the end queued behind its backlog and 'close' never comes:
      // its slot and descriptor would be held for good (the WebSocket's close timeout, here).
      setTimeout(() => {
        if (!res.writableFinished) res.destroy()
      }, closeTimeoutMs).unref()
    },
    get backlog() {
      return res.writableLength
    },
    get gone() {
      return res.destroyed || res.writableEnded
    },
    // No pong in SSE. A phone that vanished without a FIN never acknowledges: once the kernel
    // buffer is full, the previous heartbeat is still not written out when the next one is
    // due, and the stream is dropped then (a write timeout of one heartbeat) instead of
    // holding a session slot until TCP gives up.
    answersPings: false,
    heartbeat: () => {
      if (!started || res.writableEnded || res.destroyed) return
      if (!flushed) return void res.destroy()
      flushed = false
      res.write(SSE_KEEPALIVE, () => {
        flushed = true
      })
    },
    terminate: () => res.destroy(),
  }
}

export function registerSseRoute(
  app: FastifyInstance,
  pod: PodContext,
  hub: Hub,
  authenticate: RequestAuthenticator,
): void {
  app.get('/v1/sse', async (req, reply) => {
    const principal = await authenticate(req, reply, { queryToken: true, limit: 'connect' })
    const query = req.query as Record<string, unknown>
    // Last-Event-ID (EventSource's own reconnects) wins over the URL it keeps, lastId included: after
    // a resume that found reused seqs, that URL's lastId names what the stream has since replaced
    const resume = parseLastEventId(req.headers['last-event-id']) ?? parseResumeQuery(query, 'lastSeq')
    hub.checkCapacity()
    reply.hijack()
    const res = reply.raw
    // the client may have left while the token was being checked: its 'close' event is gone
    if (req.raw.destroyed || res.destroyed) return
    const session = hub.open(
      sseTransport(res, req.headers.origin, pod.config.socket.closeTimeoutMs),
      principal,
      resume,
    )
    if (!session) {
      res.once('close', () => hub.disconnected(null))
      return
    }
    // A phone that vanishes while its stream is idle leaves nothing to detect: each keep-alive fits
    // in the kernel's buffer and TCP retransmits for ~15 min before it gives up, holding a session
    // slot. So a stream lives at most SSE_MAX_STREAM_MS (±20 %: streams opened together do not end
    // together) and ends with `reconnect` + 1012; the SDK (or EventSource, with Last-Event-ID)
    // resumes on a new one at once. A live phone pays one reconnect per ~5 min.
    const maxAge = setTimeout(
      () => session.reconnect(0),
      pod.config.sse.maxStreamMs * (0.8 + 0.4 * Math.random()),
    )
    maxAge.unref()
    res.once('close', () => {
      clearTimeout(maxAge)
      hub.disconnected(session)
    })
    res.on('error', () => session.cleanup())
  })
}
