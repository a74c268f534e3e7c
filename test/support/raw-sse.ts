import { connect, type Socket } from 'node:net'

/**
 * An SSE client at the TCP level that reads up to `welcome` and then stops reading for good: what
 * the pod sees of a phone that vanished without a FIN. Resolves with the paused socket and the
 * response head; the caller destroys the socket.
 */
export function openStalledSse(
  base: string,
  headers: Record<string, string>,
): Promise<{ socket: Socket; head: string }> {
  const url = new URL(base)
  const socket = connect(Number(url.port), url.hostname)
  socket.on('error', () => {})
  const lines = Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`)
  socket.write(
    `GET /v1/sse HTTP/1.1\r\nHost: ${url.host}\r\nAccept: text/event-stream\r\n${lines.join('')}\r\n`,
  )
  let head = ''
  return new Promise((resolve, reject) => {
    const onData = (c: Buffer) => {
      head += c.toString('latin1')
      if (!head.includes('event: welcome')) return
      socket.off('data', onData)
      socket.pause()
      resolve({ socket, head })
    }
    socket.on('data', onData)
    socket.once('close', () => reject(new Error(`closed before welcome: ${head}`)))
  })
}
