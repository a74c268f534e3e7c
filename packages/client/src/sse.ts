import { TidingsError } from './errors.ts'
import { parseFrame, type Transport, type TransportEvents } from './transport.ts'
import { CloseCode } from './wire.ts'

const REVOKED_CODE = 'TDG_ERR_TOKEN_REVOKED'

export interface SseEvent {
  event: string
  data: string
  id: string
}

/** Incremental `text/event-stream` parser (WHATWG HTML §9.2.6), fed with decoded text. */
export class SseParser {
  private buffer = ''
  private event = ''
  private data: string[] = []
  private lastId = ''
  private readonly onEvent: (e: SseEvent) => void

  constructor(onEvent: (e: SseEvent) => void) {
    this.onEvent = onEvent
  }

  push(text: string): void {
    this.buffer += text
    for (;;) {
      const m = /\r\n|\r|\n/.exec(this.buffer)
      if (!m) return
      // A lone trailing '\r' may be the first half of '\r\n': wait for more input.
      if (m[0] === '\r' && m.index === this.buffer.length - 1) return
      const line = this.buffer.slice(0, m.index)
      this.buffer = this.buffer.slice(m.index + m[0].length)
      this.line(line)
    }
  }

  private line(line: string): void {
    if (line === '') {
      if (this.data.length > 0)
        this.onEvent({ event: this.event || 'message', data: this.data.join('\n'), id: this.lastId })
      this.event = ''
      this.data = []
      return
    }
    if (line.startsWith(':')) return
    const colon = line.indexOf(':')
    const field = colon < 0 ? line : line.slice(0, colon)
    let value = colon < 0 ? '' : line.slice(colon + 1)
    if (value.startsWith(' ')) value = value.slice(1)
    if (field === 'event') this.event = value
    else if (field === 'data') this.data.push(value)
    else if (field === 'id' && !value.includes('\0')) this.lastId = value
  }
}

/** HTTP status (and `TDG_ERR_*` code) of a refused request → the WebSocket close code with the same meaning. */
export function statusToCloseCode(status: number, code?: string): number {
  // the gateway refuses a revoked user's token with 401 at the door and closes with 4003 once in
  if (status === 401) return code === REVOKED_CODE ? CloseCode.Revoked : CloseCode.Unauthorized
  if (status === 429) return CloseCode.RateLimited
  if (status === 503) return CloseCode.TryAgainLater
  if (status >= 400 && status < 500) return CloseCode.PolicyViolation
  return 1006
}

/** `event: close` — the gateway's close code for a stream it ends (what a WebSocket close frame says). */
function parseClose(data: string): { code: number; reason: string } | undefined {
  try {
    const f = JSON.parse(data) as { code?: unknown; reason?: unknown }
    if (typeof f.code === 'number')
      return { code: f.code, reason: typeof f.reason === 'string' ? f.reason : '' }
  } catch {}
  return undefined
}

function dispatch(e: SseEvent, ev: TransportEvents): void {
  const frame = parseFrame(e.data, e.event === 'message' ? undefined : e.event)
  if (frame instanceof TidingsError) ev.error(frame)
  else ev.frame(frame, e.id || undefined)
}

/**
 * The platform's `AbortSignal` where the app's TypeScript libs declare one (DOM, @types/node), else a
 * minimal stand-in: the published declarations must not need the DOM lib, and the platform `fetch`
 * must still fit `FetchLike` (its `init.signal` is the full `AbortSignal`).
 */
export type AbortSignalLike = typeof globalThis extends { AbortSignal: { prototype: infer S } }
  ? S
  : { readonly aborted: boolean }

/** The part of a `ReadableStreamDefaultReader<Uint8Array>` the SDK reads a body with. */
export interface BodyReaderLike {
  read(): Promise<{ done: boolean; value?: Uint8Array }>
}

export interface FetchInit {
  method?: string
  headers: Record<string, string>
  body?: string
  signal?: AbortSignalLike
}

export interface FetchResponseLike {
  ok: boolean
  status: number
  body?: { getReader(): BodyReaderLike; cancel?(): Promise<void> } | null
  /** Read for the `TDG_ERR_*` code of a refusal; without it only the status counts. */
  json?(): Promise<unknown>
}

/** The `fetch` the SDK needs (any WHATWG fetch fits). */
export type FetchLike = (url: string, init: FetchInit) => Promise<FetchResponseLike>

/** The `code` of a gateway error body (`{statusCode, code, message}`), if there is one. */
export async function refusalCode(res: FetchResponseLike): Promise<string | undefined> {
  try {
    const body = (await res.json?.()) as { code?: unknown } | undefined
    return typeof body?.code === 'string' ? body.code : undefined
  } catch {
    return undefined
  }
}

/**
 * SSE over fetch(): the token travels in the Authorization header, HTTP statuses are visible. The
 * position is in the URL's query with its `lastId`; no Last-Event-ID, which the gateway would take
 * instead of the query (for EventSource's own reconnects), without the id.
 */
export function openFetchSse(fetchFn: FetchLike, url: string, token: string, ev: TransportEvents): Transport {
  let done = false
  const abort = typeof AbortController === 'function' ? new AbortController() : undefined
  const finish = (info: Parameters<TransportEvents['close']>[0]): void => {
    if (done) return
    done = true
    ev.close(info)
  }
  const headers: Record<string, string> = { accept: 'text/event-stream', authorization: `Bearer ${token}` }

  let opened = false
  const run = async (): Promise<void> => {
    const res = await fetchFn(url, { headers, ...(abort ? { signal: abort.signal } : {}) })
    if (done) return
    if (!res.ok) {
      const code = res.status === 401 ? await refusalCode(res) : undefined
      void res.body?.cancel?.().catch(() => undefined)
      finish({ code: statusToCloseCode(res.status, code), reason: `HTTP ${res.status}`, opened: false })
      return
    }
    if (!res.body || typeof res.body.getReader !== 'function' || typeof TextDecoder !== 'function') {
      finish({
        code: 1006,
        reason: 'fetch() cannot stream a response here',
        opened: false,
        unsupported: true,
      })
      return
    }
    opened = true
    ev.open()
    const reader = res.body.getReader()
    const decoder = new TextDecoder()
    const parser = new SseParser((e) => {
      if (done) return
      const close = e.event === 'close' ? parseClose(e.data) : undefined
      if (close) {
        finish({ ...close, opened: true })
        abort?.abort()
      } else dispatch(e, ev)
    })
    for (;;) {
      const { done: end, value } = await reader.read()
      if (done) return
      if (end) break
      ev.activity()
      parser.push(decoder.decode(value, { stream: true }))
    }
    finish({ code: 1006, reason: 'event stream ended', opened: true })
  }
  run().catch((e: unknown) => {
    finish({ code: 1006, reason: `event stream failed: ${String(e)}`, opened, network: !opened })
  })

  return {
    kind: 'sse',
    send: () => false,
    close() {
      if (done) return
      done = true
      abort?.abort()
    },
  }
}

/**
 * The part of the WHATWG EventSource the SDK uses (browsers, or an RN polyfill such as
 * `react-native-sse`, which calls only listeners added with `addEventListener`, never `onopen` /
 * `onerror` / `onmessage`). The listener takes `unknown`: each implementation's event types fit it.
 */
export interface EventSourceLike {
  addEventListener(type: string, listener: (event: unknown) => void): void
  close(): void
}
export type EventSourceConstructor = new (url: string) => EventSourceLike

const SERVER_EVENTS = [
  'welcome',
  'missed',
  'notification',
  'broadcast',
  'subscribed',
  'unsubscribed',
  'reauth',
  'authenticated',
  'pong',
  'reconnect',
] as const

/** SSE over EventSource: the token must be in the URL (`access_token`), statuses are invisible. */
export function openEventSource(Ctor: EventSourceConstructor, url: string, ev: TransportEvents): Transport {
  let done = false
  let opened = false
  const es = new Ctor(url)
  const onEvent = (type: string) => (event: unknown) => {
    const e = event as { data?: unknown; lastEventId?: unknown } | null
    if (done || typeof e?.data !== 'string') return
    ev.activity()
    dispatch({ event: type, data: e.data, id: typeof e.lastEventId === 'string' ? e.lastEventId : '' }, ev)
  }
  for (const type of SERVER_EVENTS) es.addEventListener(type, onEvent(type))
  es.addEventListener('message', onEvent('message'))
  es.addEventListener('close', (event) => {
    const data = (event as { data?: unknown } | null)?.data
    const close = !done && typeof data === 'string' ? parseClose(data) : undefined
    if (!close) return
    done = true
    es.close()
    ev.close({ ...close, opened })
  })
  es.addEventListener('open', () => {
    if (done) return
    opened = true
    ev.open()
  })
  // `event: error` frames from the server and EventSource's own failures share the name.
  const serverError = onEvent('error')
  es.addEventListener('error', (event) => {
    if (done) return
    if (typeof (event as { data?: unknown } | null)?.data === 'string') return serverError(event)
    // EventSource would retry by itself with the same (maybe expired) token: the client decides.
    done = true
    es.close()
    ev.close({ code: 1006, reason: 'EventSource failed', opened, network: !opened })
  })
  return {
    kind: 'sse',
    send: () => false,
    close() {
      if (done) return
      done = true
      es.close()
    },
  }
}
