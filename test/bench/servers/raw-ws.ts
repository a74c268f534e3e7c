// Baseline "raw ws": node:http + `ws` (noServer, perMessageDeflate off, clientTracking off — the
// gateway's options), the JWT checked on `upgrade` BEFORE handleUpgrade (a refusal is a 401 response),
// then a per-user SSUBSCRIBE (common.ts) and a `welcome` frame. Per socket it keeps: the ws WebSocket
// (and its net.Socket, Receiver, Sender), a 'message' and a 'close' listener, one entry in the user's
// Set and the Set + channel name of the user. Nothing of the upgrade request is kept: the per-socket
// listeners are created in `attach`, a top-level function, so their closure context cannot reach `req`.
//   PORT, HOST, REDIS_URL, JWT_SECRET
import { createServer, type IncomingMessage } from 'node:http'
import type { Duplex } from 'node:stream'
import { type WebSocket, WebSocketServer } from 'ws'
import { createUserRouter, env, onStop, userOf, welcome } from './common.ts'

const router = createUserRouter(env('REDIS_URL'))
const wss = new WebSocketServer({
  noServer: true,
  perMessageDeflate: false,
  clientTracking: false,
  maxPayload: 16_384,
})
let sockets = 0

const server = createServer((req, res) => {
  const body =
    req.url === '/stats' ? JSON.stringify({ sockets, channels: router.channels }) : '{"status":"ok"}'
  res.writeHead(200, { 'content-type': 'application/json' }).end(body)
})

function destroyOnError(this: Duplex): void {
  this.destroy()
}

server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
  socket.on('error', destroyOnError)
  void userOf(req.headers.authorization).then((userId) => {
    if (!userId)
      return void socket.end('HTTP/1.1 401 Unauthorized\r\nconnection: close\r\ncontent-length: 0\r\n\r\n')
    socket.off('error', destroyOnError) // ws installs its own
    wss.handleUpgrade(req, socket, head, (ws) => attach(ws, userId))
  })
})

function attach(ws: WebSocket, userId: string): void {
  sockets++
  ws.on('message', () => undefined) // a real server reads client frames (acks); nothing to do here
  ws.on('close', () => {
    sockets--
    router.leave(userId, ws)
  })
  router.join(userId, ws).then(
    () => ws.send(welcome(userId)),
    () => ws.close(1013),
  )
}

server.listen(Number(env('PORT')), process.env.HOST ?? '127.0.0.1')
onStop(async () => {
  server.close()
  await router.close()
})
