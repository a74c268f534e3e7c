// The admin port: probes and metrics there, not on the public port; readiness false while draining
// but not because Redis is down (admin-server.ts says why).
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { startRedis, waitFor } from '@tidings/test/infra'
import { startAdminServer } from './admin-server.ts'
import { startTestGateway } from './testing/test-gateway.ts'

test('with ADMIN_PORT, /readyz and /metrics answer there and not on the public port', async () => {
  const gw = await startTestGateway({ ADMIN_PORT: '0', DRAIN_MS: '300' })
  const admin = await startAdminServer(gw.gateway, gw.gateway.pod.log, 0, '127.0.0.1')
  const base = `http://127.0.0.1:${admin.port}`
  try {
    assert.equal((await fetch(`${gw.url}/readyz`)).status, 404)
    assert.equal((await fetch(`${gw.url}/metrics`)).status, 404)
    // constant, leaks nothing: for cloud load balancers that health-check the traffic port
    assert.equal((await fetch(`${gw.url}/healthz`)).status, 200)
    assert.equal((await fetch(`${base}/healthz`)).status, 200)
    const ready = await fetch(`${base}/readyz`)
    assert.equal(ready.status, 200)
    assert.deepEqual(await ready.json(), { status: 'ready', draining: false, redis: true })
    const metrics = await (await fetch(`${base}/metrics`)).text()
    assert.match(metrics, /^tidings_ws_connections\{service="gateway"\} 0$/m)
    // the HTTP API's OpenAPI document, generated from the route schemas, on the admin side only
    const openapi = (await (await fetch(`${base}/openapi.json`)).json()) as { openapi: string; paths: object }
    assert.equal(openapi.openapi, '3.1.0')
    assert.ok('/v1/inbox' in openapi.paths && '/v1/inbox/ack' in openapi.paths && '/readyz' in openapi.paths)
    assert.equal((await fetch(`${gw.url}/openapi.json`)).status, 404)
    const stopping = gw.stop()
    await waitFor(async () => (await fetch(`${base}/readyz`)).status === 503, {
      message: 'not ready while draining',
    })
    await stopping
  } finally {
    await admin.server.close()
  }
})

test('a Redis outage shows in /readyz but does not take the pod out of the Service', async () => {
  const redis = await startRedis()
  const gw = await startTestGateway({ REDIS_URL: redis.url, ADMIN_PORT: '0' })
  const admin = await startAdminServer(gw.gateway, gw.gateway.pod.log, 0, '127.0.0.1')
  try {
    await redis.stop()
    const res = await fetch(`http://127.0.0.1:${admin.port}/readyz`)
    assert.equal(res.status, 200)
    assert.deepEqual(await res.json(), { status: 'ready', draining: false, redis: false })
  } finally {
    await admin.server.close()
    await gw.stop()
  }
})
