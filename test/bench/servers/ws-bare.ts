// Baseline "bare ws": `new WebSocketServer({ server })` with ws's defaults (clientTracking on), no
// authentication, no Redis: one 'message' listener and a `welcome` frame per socket. The floor of what
// a Node WebSocket costs here, to calibrate against the figure for raw `ws`.
//   PORT, HOST
import { createServer } from 'node:http'
import { WebSocketServer } from 'ws'
import { env, onStop, welcome } from './common.ts'

const server = createServer((req, res) => {
  const body =
    req.url === '/stats' ? JSON.stringify({ sockets: wss.clients.size, channels: 0 }) : '{"status":"ok"}'
  res.writeHead(200, { 'content-type': 'application/json' }).end(body)
})
const wss = new WebSocketServer({ server })
wss.on('connection', (ws) => {
  ws.on('message', () => undefined)
  ws.send(welcome('anonymous'))
})

server.listen(Number(env('PORT')), process.env.HOST ?? '127.0.0.1')
onStop(async () => {
  server.close()
})
