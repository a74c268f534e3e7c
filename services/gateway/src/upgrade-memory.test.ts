// Nothing of the upgrade request may stay reachable from an open socket: not a response attached to
// the TCP socket (`_httpMessage`), not an `error` listener closing over the request (what
// @fastify/websocket left, ~3 KiB per socket, until ws-upgrade.ts answered upgrades itself), nor any
// listener at all. A change
// of ws, Node or ws-upgrade.ts that keeps the request reachable again fails here.
import assert from 'node:assert/strict'
import type { IncomingMessage } from 'node:http'
import type { Socket } from 'node:net'
import { test } from 'node:test'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { uniqueName, waitFor } from '@tidings/test/infra'
import { signUserToken } from '@tidings/test/support/tokens'
import { openSocket } from '@tidings/test/support/ws-client'
import type { WebSocket } from 'ws'
import { startTestGateway } from './testing/test-gateway.ts'

setFlagsFromString('--expose-gc')
const gc = runInNewContext('gc') as () => void

test('an open WebSocket keeps nothing of its upgrade request reachable', async () => {
  const gw = await startTestGateway()
  try {
    let request: WeakRef<IncomingMessage> | undefined
    let tcp: (Socket & { _httpMessage?: unknown }) | undefined
    gw.gateway.app.server.prependListener('upgrade', (req: IncomingMessage, socket: Socket) => {
      request = new WeakRef(req)
      tcp = socket
    })
    const s = await openSocket(gw.url, { token: await signUserToken(uniqueName('u')) })
    await s.next('welcome')
    assert.ok(tcp && request, 'the upgrade was seen')
    assert.equal(tcp._httpMessage ?? null, null, 'the upgrade response is detached from the TCP socket')
    const kWebSocket = Object.getOwnPropertySymbols(tcp).find((k) => k.description === 'websocket')
    const ws = kWebSocket && ((tcp as unknown as Record<symbol, WebSocket>)[kWebSocket] as WebSocket)
    assert.ok(ws, 'ws keeps its WebSocket on the TCP socket')
    // nor any listener: its events go to its session (ws-transport.ts), errors to the pod's handler
    assert.deepEqual(ws.eventNames(), [], 'no listener on the socket')
    // the socket is open and in use, yet its upgrade request can be collected
    await waitFor(
      () => {
        gc()
        return request!.deref() === undefined
      },
      { message: 'the upgrade request was garbage-collected' },
    )
    s.send({ type: 'ping' })
    await s.next('pong')
    await s.close()
  } finally {
    await gw.stop()
  }
})
