import type { ServerFrame } from '@tidings/contracts'
import { WebSocket } from 'ws'

/** A real WebSocket client that records every frame, for tests. */
export interface TestSocket {
  ws: WebSocket
  frames: ServerFrame[]
  /** Resolves with the next frame (of `type`, when given) not yet taken by `next`. */
  next<T extends ServerFrame['type']>(
    type?: T,
    timeoutMs?: number,
  ): Promise<Extract<ServerFrame, { type: T }>>
  /** Resolves once `count` frames of `type` have arrived in total. */
  waitForCount(type: ServerFrame['type'], count: number, timeoutMs?: number): Promise<ServerFrame[]>
  send(frame: unknown): void
  closed: Promise<{ code: number; reason: string }>
  close(): Promise<void>
}

export interface OpenOptions {
  token?: string
  /** 'header' (default): Authorization: Bearer; 'subprotocol': tidings.v1 + bearer.<jwt> */
  via?: 'header' | 'subprotocol'
  origin?: string
  query?: Record<string, string | number>
  autoPong?: boolean
  maxPayload?: number
  /** Extra request headers (e.g. X-Forwarded-For). */
  headers?: Record<string, string>
}

export function wsUrl(base: string, query: OpenOptions['query'] = {}): string {
  const u = new URL('/v1/ws', base.replace(/^http/, 'ws'))
  for (const [k, v] of Object.entries(query)) u.searchParams.set(k, String(v))
  return u.toString()
}

/** Opens a socket; rejects with `{ status, body }` when the server refuses the upgrade. */
export function openSocket(base: string, opts: OpenOptions = {}): Promise<TestSocket> {
  const headers: Record<string, string> = { ...opts.headers }
  let protocols: string[] | undefined
  if (opts.token && (opts.via ?? 'header') === 'header') headers.authorization = `Bearer ${opts.token}`
  if (opts.token && opts.via === 'subprotocol') protocols = ['tidings.v1', `bearer.${opts.token}`]
  if (opts.origin) headers.origin = opts.origin
  const ws = new WebSocket(wsUrl(base, opts.query), protocols, {
    headers,
    autoPong: opts.autoPong ?? true,
  })
  const frames: ServerFrame[] = []
  let taken = 0
  const waiters = new Set<() => void>()
  ws.on('message', (data) => {
    frames.push(JSON.parse(String(data)) as ServerFrame)
    for (const w of [...waiters]) w()
  })
  const closed = new Promise<{ code: number; reason: string }>((resolve) => {
    ws.on('close', (code, reason) => {
      resolve({ code, reason: String(reason) })
      for (const w of [...waiters]) w()
    })
  })

  function until<T>(check: () => T | undefined, timeoutMs: number, what: string): Promise<T> {
    return new Promise((resolve, reject) => {
      const attempt = () => {
        const v = check()
        if (v !== undefined) {
          waiters.delete(attempt)
          clearTimeout(timer)
          resolve(v)
        } else if (ws.readyState === WebSocket.CLOSED) {
          waiters.delete(attempt)
          clearTimeout(timer)
          reject(new Error(`socket closed while waiting for ${what}; frames: ${JSON.stringify(frames)}`))
        }
      }
      const timer = setTimeout(() => {
        waiters.delete(attempt)
        reject(new Error(`timed out waiting for ${what}; frames: ${JSON.stringify(frames)}`))
      }, timeoutMs)
      waiters.add(attempt)
      attempt()
    })
  }

  const socket: TestSocket = {
    ws,
    frames,
    next<T extends ServerFrame['type']>(type?: T, timeoutMs = 10_000) {
      return until<Extract<ServerFrame, { type: T }>>(
        () => {
          while (taken < frames.length) {
            const f = frames[taken++]!
            if (!type || f.type === type) return f as Extract<ServerFrame, { type: T }>
          }
          return undefined
        },
        timeoutMs,
        `a ${type ?? 'frame'}`,
      )
    },
    waitForCount(type, count, timeoutMs = 10_000) {
      return until(
        () => {
          const got = frames.filter((f) => f.type === type)
          return got.length >= count ? got : undefined
        },
        timeoutMs,
        `${count} ${type} frames`,
      )
    },
    send(frame) {
      ws.send(typeof frame === 'string' ? frame : JSON.stringify(frame))
    },
    closed,
    async close() {
      if (ws.readyState !== WebSocket.CLOSED) ws.close()
      await closed
    },
  }

  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve(socket))
    ws.once('unexpected-response', (_req, res) => {
      let body = ''
      res.on('data', (c: Buffer) => {
        body += c
      })
      res.on('end', () =>
        reject(Object.assign(new Error(`HTTP ${res.statusCode}`), { status: res.statusCode, body })),
      )
    })
    ws.once('error', (err) => reject(err))
  })
}
