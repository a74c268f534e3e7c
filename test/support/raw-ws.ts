import { randomBytes } from 'node:crypto'
import { connect, type Socket } from 'node:net'

/**
 * A WebSocket client at the byte level, for attacks a well-behaved library will not make: it
 * never answers a close frame, never reads pongs, sends control frames in a flood.
 */
export interface RawSocket {
  socket: Socket
  /** The HTTP status of the handshake response (101 when upgraded). */
  status: number
  /** The response head and body (up to what arrived with the head). */
  response: string
  /** Everything received after the handshake. */
  received(): Buffer
  /** Resolves when the server closed or destroyed the TCP connection. */
  ended: Promise<void>
  send(opcode: number, payload?: Buffer | string): void
}

export const Opcode = { Text: 0x1, Binary: 0x2, Close: 0x8, Ping: 0x9, Pong: 0xa } as const

/** A masked client frame (RFC 6455 §5.2), FIN set. */
export function clientFrame(opcode: number, payload: Buffer = Buffer.alloc(0), fin = true): Buffer {
  const mask = randomBytes(4)
  const len = payload.length
  const head =
    len < 126
      ? Buffer.from([(fin ? 0x80 : 0) | opcode, 0x80 | len])
      : len < 65536
        ? Buffer.from([(fin ? 0x80 : 0) | opcode, 0x80 | 126, len >> 8, len & 0xff])
        : Buffer.concat([
            Buffer.from([(fin ? 0x80 : 0) | opcode, 0x80 | 127]),
            (() => {
              const b = Buffer.alloc(8)
              b.writeBigUInt64BE(BigInt(len))
              return b
            })(),
          ])
  const body = Buffer.from(payload)
  for (let i = 0; i < body.length; i++) body[i]! ^= mask[i % 4]!
  return Buffer.concat([head, mask, body])
}

/** Sends the upgrade request for `path` and resolves once the response head arrived. */
export function rawUpgrade(
  base: string,
  path: string,
  headers: Record<string, string> = {},
): Promise<RawSocket> {
  const url = new URL(base)
  const socket = connect(Number(url.port), url.hostname)
  const lines = [
    `GET ${path} HTTP/1.1`,
    `Host: ${url.host}`,
    'Upgrade: websocket',
    'Connection: Upgrade',
    `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}`,
    'Sec-WebSocket-Version: 13',
    ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`),
  ]
  socket.write(`${lines.join('\r\n')}\r\n\r\n`)
  const ended = new Promise<void>((resolve) => {
    socket.once('close', () => resolve())
  })
  socket.on('error', () => {})
  let buf = Buffer.alloc(0)
  let after: Buffer[] = []
  return new Promise((resolve, reject) => {
    let done = false
    socket.on('data', (chunk: Buffer) => {
      if (done) {
        after.push(chunk)
        return
      }
      buf = Buffer.concat([buf, chunk])
      const end = buf.indexOf('\r\n\r\n')
      if (end < 0) return
      done = true
      const head = buf.subarray(0, end).toString('latin1')
      const status = Number(head.split(' ')[1])
      const rest = buf.subarray(end + 4)
      if (status === 101) after = rest.length ? [rest] : []
      resolve({
        socket,
        status,
        response: status === 101 ? head : buf.toString('latin1'),
        received: () => Buffer.concat(after),
        ended,
        send(opcode, payload = Buffer.alloc(0)) {
          socket.write(clientFrame(opcode, typeof payload === 'string' ? Buffer.from(payload) : payload))
        },
      })
    })
    ended.then(() => {
      if (!done) reject(new Error(`connection closed before a response: ${buf.toString('latin1')}`))
    })
  })
}

/** The close code of the first close frame in server bytes (unmasked frames), or undefined. */
export function closeCodeIn(bytes: Buffer): number | undefined {
  let i = 0
  while (i + 2 <= bytes.length) {
    const opcode = bytes[i]! & 0x0f
    let len = bytes[i + 1]! & 0x7f
    let off = i + 2
    if (len === 126) {
      len = bytes.readUInt16BE(off)
      off += 2
    } else if (len === 127) {
      len = Number(bytes.readBigUInt64BE(off))
      off += 8
    }
    if (opcode === Opcode.Close) return len >= 2 ? bytes.readUInt16BE(off) : 1005
    i = off + len
  }
  return undefined
}
