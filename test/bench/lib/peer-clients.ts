// Clients of the peers the end-to-end bench compares with (e2e.ts), each speaking its own protocol, used
// by loadgen.ts for `protocol: 'socketio' | 'centrifugo'` (the Tidings protocol stays in loadgen.ts):
// - Socket.IO: socket.io-client over WebSocket only (no long-polling upgrade dance), the JWT in `auth`;
// - Centrifugo: its JSON protocol over a raw ws (what centrifuge-js sends, without the SDK's timers):
//   a `connect` command with the JWT, the personal channel subscribed server-side; replies and pushes
//   may share one frame, newline-separated; an empty `{}` is the server's ping, answered with `{}`.
import { io } from 'socket.io-client'
import { WebSocket } from 'ws'

export interface PeerConnection {
  close(): Promise<void>
}

export interface PeerOpen {
  url: string
  token: string
  localAddress: string
  /** Called with the event payload of every notification (the produced JSON, as delivered). */
  onNotification(payload: { loanId?: string }): void
  /** The server (or the network) closed the connection after it was established. */
  onUnexpectedClose(): void
}

export function openSocketIo(o: PeerOpen): Promise<PeerConnection> {
  return new Promise((resolve, reject) => {
    const socket = io(o.url, {
      transports: ['websocket'],
      auth: { token: o.token },
      reconnection: false,
      timeout: 30_000,
      // handed to the ws client under engine.io-client in Node
      localAddress: o.localAddress,
    } as Parameters<typeof io>[1])
    let ready = false
    let closing = false
    socket.on('notification', (payload: { loanId?: string }) => o.onNotification(payload))
    socket.on('connect', () => {
      ready = true
      resolve({
        close: () =>
          new Promise<void>((done) => {
            closing = true
            socket.once('disconnect', () => done())
            socket.disconnect()
            if (socket.disconnected) done()
          }),
      })
    })
    socket.on('connect_error', (err) => {
      socket.close()
      if (!ready) reject(err)
    })
    socket.on('disconnect', () => {
      if (ready && !closing) o.onUnexpectedClose()
    })
  })
}

interface CentrifugoReply {
  id?: number
  error?: { code: number; message: string }
  connect?: unknown
  push?: { channel?: string; pub?: { data?: { loanId?: string } } }
}

export function openCentrifugo(o: PeerOpen): Promise<PeerConnection> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(o.url, {
      localAddress: o.localAddress,
      perMessageDeflate: false,
      handshakeTimeout: 30_000,
    })
    let ready = false
    let closing = false
    ws.on('open', () =>
      ws.send(JSON.stringify({ id: 1, connect: { token: o.token, name: 'tidings-bench' } })),
    )
    ws.on('message', (data) => {
      for (const line of String(data).split('\n')) {
        if (!line) continue
        if (line === '{}') {
          ws.send('{}') // pong
          continue
        }
        const r = JSON.parse(line) as CentrifugoReply
        if (r.id === 1) {
          if (r.error) {
            ws.terminate()
            reject(new Error(`centrifugo connect: ${r.error.code} ${r.error.message}`))
            return
          }
          ready = true
          resolve({
            close: () =>
              new Promise<void>((done) => {
                closing = true
                if (ws.readyState === WebSocket.CLOSED) return done()
                ws.once('close', () => done())
                ws.close(1000)
              }),
          })
        } else if (r.push?.pub?.data) o.onNotification(r.push.pub.data)
      }
    })
    ws.on('unexpected-response', (_r, res) => {
      ws.terminate()
      reject(new Error(`HTTP ${res.statusCode}`))
    })
    ws.on('error', (err) => {
      if (!ready) reject(err)
    })
    ws.on('close', (code) => {
      if (!ready) reject(new Error(`closed ${code} before connect`))
      else if (!closing) o.onUnexpectedClose()
    })
  })
}
