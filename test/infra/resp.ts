// A one-shot Redis command over a raw socket, for readiness probes: lighter than an ioredis client and
// it never retries or reconnects behind our back.
import { connect } from 'node:net'
import { connect as connectTls } from 'node:tls'

/** A command in RESP, as a client sends it. */
export function encodeCommand(args: readonly string[]): string {
  return `*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('')}`
}

/** The reply as text: simple strings and integers without their prefix, bulk strings' content. */
function parse(buffer: Buffer): string | undefined {
  const lineEnd = buffer.indexOf('\r\n')
  if (lineEnd < 0) return undefined
  const line = buffer.subarray(0, lineEnd).toString()
  const kind = line[0]
  const rest = line.slice(1)
  if (kind === '-') throw new Error(rest)
  if (kind !== '$') return rest
  const length = Number(rest)
  if (length < 0) return ''
  const start = lineEnd + 2
  if (buffer.length < start + length + 2) return undefined
  return buffer.subarray(start, start + length).toString()
}

/**
 * `tls.ca`: speak TLS to the port and trust that CA; `tls.auth`: AUTH as that user first (the
 * secured servers' readiness probes).
 */
export function redisCommand(
  port: number,
  args: string[],
  timeoutMs = 2000,
  tls?: { ca: string; auth?: [user: string, password: string] },
): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = tls
      ? connectTls({ host: '127.0.0.1', port, ca: tls.ca, servername: 'localhost' })
      : connect({ host: '127.0.0.1', port })
    let buffer = Buffer.alloc(0)
    const finish = (error: Error | undefined, reply?: string) => {
      socket.destroy()
      if (error) reject(error)
      else resolve(reply ?? '')
    }
    socket.setTimeout(timeoutMs, () => finish(new Error(`redis :${port} ${args[0]} timed out`)))
    socket.once('error', (error) => finish(error))
    let authPending = tls?.auth !== undefined
    socket.once(tls ? 'secureConnect' : 'connect', () =>
      socket.write((tls?.auth ? encodeCommand(['AUTH', ...tls.auth]) : '') + encodeCommand(args)),
    )
    socket.on('data', (chunk) => {
      buffer = Buffer.concat([buffer, chunk])
      if (authPending) {
        const end = buffer.indexOf('\r\n')
        if (end < 0) return
        const line = buffer.subarray(0, end).toString()
        if (!line.startsWith('+')) return finish(new Error(`AUTH: ${line.slice(1)}`))
        authPending = false
        buffer = buffer.subarray(end + 2)
        if (buffer.length === 0) return
      }
      try {
        const reply = parse(buffer)
        if (reply !== undefined) finish(undefined, reply)
      } catch (error) {
        finish(error as Error)
      }
    })
  })
}
