import { WS_PATH } from '@tidings/contracts'
import type { FastifyInstance } from 'fastify'
import { UPGRADE_REFUSED } from './errors.ts'

/**
 * @fastify/websocket routes every `Upgrade: websocket` request through the normal router and,
 * on a route without a wsHandler, completes the handshake (allocating a ws socket, with no
 * token checked) before closing it. This hook answers such requests with an HTTP error before
 * any route runs; the plugin's onResponse hook then destroys the TCP socket.
 */
export function registerUpgradeGuard(app: FastifyInstance): void {
  app.addHook('onRequest', async (req) => {
    if (req.ws && req.routeOptions.url !== WS_PATH) throw new UPGRADE_REFUSED(WS_PATH)
  })
}
