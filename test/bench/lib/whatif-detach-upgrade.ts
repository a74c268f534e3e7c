// WHAT-IF, bench only (never part of the service): preloaded into a gateway process for the
// `gateway-detach` memory run, to measure what one change in the gateway would save.
//
// @fastify/websocket routes an upgrade through Fastify with a ServerResponse it assigns to the socket
// (`rawResponse.assignSocket(socket)` → `socket._httpMessage = res`). The response never finishes
// (the reply is hijacked), so that reference and Fastify's 'finish'/'error' listeners on it (closures
// over the Reply) keep, for the socket's whole life: ServerResponse → Reply → Request → IncomingMessage
// (headers, rawHeaders incl. the JWT, url), the request's pino child logger… This preload does, right
// after ws completes the upgrade, what the gateway's wsHandler could do itself:
//
//     const res = (req.socket as { _httpMessage?: ServerResponse | null })._httpMessage
//     res?.detachSocket(req.socket)
//
// (ServerResponse#detachSocket clears socket._httpMessage and the 'close' listener assignSocket added.)

import type { ServerResponse } from 'node:http'
import { createRequire } from 'node:module'
import type { Socket } from 'node:net'

type Upgraded = Socket & { _httpMessage?: ServerResponse | null }
type CompleteUpgrade = (this: unknown, ...args: unknown[]) => unknown

// The gateway's `ws` (the copy @fastify/websocket loads): same realpath, so the same CJS module instance.
const require = createRequire(
  new URL('../../../services/gateway/node_modules/@fastify/websocket/index.js', import.meta.url),
)
const ws = require('ws') as { Server: { prototype: { completeUpgrade: CompleteUpgrade } } }
const original = ws.Server.prototype.completeUpgrade

ws.Server.prototype.completeUpgrade = function (this: unknown, ...args: unknown[]) {
  // (extensions, key, protocols, req, socket, head, cb)
  const socket = args[4] as Upgraded
  const cb = args[6] as (...a: unknown[]) => void
  args[6] = (...a: unknown[]) => {
    socket._httpMessage?.detachSocket(socket)
    cb(...a)
  }
  return original.apply(this, args)
}
