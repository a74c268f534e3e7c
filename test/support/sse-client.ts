/** A real Server-Sent Events reader (fetch + stream parsing, as the spec defines), for tests. */
export interface SseEvent {
  event: string
  data: string
  id?: string
}

export interface TestSse {
  status: number
  events: SseEvent[]
  next(event?: string, timeoutMs?: number): Promise<SseEvent>
  /** Resolves when the server ended the stream. */
  ended: Promise<void>
  close(): void
}

export async function openSse(url: string, headers: Record<string, string> = {}): Promise<TestSse> {
  const abort = new AbortController()
  const res = await fetch(url, { headers: { accept: 'text/event-stream', ...headers }, signal: abort.signal })
  const events: SseEvent[] = []
  const waiters = new Set<() => void>()
  let taken = 0
  let done = false
  const ended = (async () => {
    if (!res.body || res.status !== 200) return
    const decoder = new TextDecoder()
    let buf = ''
    try {
      for await (const chunk of res.body) {
        buf += decoder.decode(chunk as Uint8Array, { stream: true })
        let i = buf.indexOf('\n\n')
        while (i >= 0) {
          const block = buf.slice(0, i)
          buf = buf.slice(i + 2)
          const ev: SseEvent = { event: 'message', data: '' }
          let hasData = false
          for (const line of block.split('\n')) {
            if (line.startsWith(':')) continue
            const c = line.indexOf(':')
            const field = c < 0 ? line : line.slice(0, c)
            const value = c < 0 ? '' : line.slice(c + 1).replace(/^ /, '')
            if (field === 'event') ev.event = value
            else if (field === 'id') ev.id = value
            else if (field === 'data') {
              ev.data += hasData ? `\n${value}` : value
              hasData = true
            }
          }
          if (hasData) events.push(ev)
          i = buf.indexOf('\n\n')
        }
        for (const w of [...waiters]) w()
      }
    } catch {
      // aborted by close()
    } finally {
      done = true
      for (const w of [...waiters]) w()
    }
  })()
  return {
    status: res.status,
    events,
    next(event, timeoutMs = 10_000) {
      return new Promise((resolve, reject) => {
        const attempt = () => {
          while (taken < events.length) {
            const e = events[taken++]!
            if (!event || e.event === event) {
              waiters.delete(attempt)
              clearTimeout(timer)
              return resolve(e)
            }
          }
          if (done) {
            waiters.delete(attempt)
            clearTimeout(timer)
            reject(
              new Error(`stream ended while waiting for ${event ?? 'an event'}: ${JSON.stringify(events)}`),
            )
          }
        }
        const timer = setTimeout(() => {
          waiters.delete(attempt)
          reject(new Error(`timed out waiting for ${event ?? 'an event'}: ${JSON.stringify(events)}`))
        }, timeoutMs)
        waiters.add(attempt)
        attempt()
      })
    },
    ended,
    close: () => abort.abort(),
  }
}
