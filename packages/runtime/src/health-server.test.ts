// The admin endpoints both services serve (the gateway also on its public port without ADMIN_PORT).
import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { Registry } from 'prom-client'
import { createHealthServer, healthAnswer, type Readiness } from './health-server.ts'
import { createLogger } from './logger.ts'

let ready: Readiness = { ready: true, checks: { redis: true } }
let scrapes = 0
const registry = new Registry()
const deps = {
  registry,
  readiness: async () => ready,
  beforeScrape: async () => {
    scrapes += 1
  },
  documents: { '/openapi.json': () => ({ openapi: '3.1.0' }) },
}
const server = createHealthServer({ ...deps, logger: createLogger('test', 'silent') })
let base = ''
before(async () => {
  base = `http://127.0.0.1:${await server.listen(0, '127.0.0.1')}`
})
after(() => server.close())

test('/healthz is constant; /readyz is 200 or 503 with the checks in the body; never cached', async () => {
  const health = await fetch(`${base}/healthz`)
  assert.equal(health.status, 200)
  assert.deepEqual(await health.json(), { status: 'ok' })
  assert.equal(health.headers.get('cache-control'), 'no-store')
  assert.deepEqual(await (await fetch(`${base}/readyz`)).json(), { status: 'ready', redis: true })
  ready = { ready: false, checks: { draining: true } }
  const notReady = await fetch(`${base}/readyz?verbose`)
  assert.equal(notReady.status, 503)
  assert.deepEqual(await notReady.json(), { status: 'not ready', draining: true })
})

test('/metrics runs beforeScrape; documents by path; 404 otherwise; 405 with Allow for other methods', async () => {
  const metrics = await fetch(`${base}/metrics`)
  assert.equal(metrics.status, 200)
  assert.equal(metrics.headers.get('content-type'), registry.contentType)
  await metrics.text()
  assert.equal(scrapes, 1)
  assert.deepEqual(await (await fetch(`${base}/openapi.json`)).json(), { openapi: '3.1.0' })
  assert.equal((await fetch(`${base}/nope`)).status, 404)
  const post = await fetch(`${base}/healthz`, { method: 'POST' })
  assert.equal(post.status, 405)
  assert.equal(post.headers.get('allow'), 'GET, HEAD')
  const head = await fetch(`${base}/healthz`, { method: 'HEAD' })
  assert.equal(head.status, 200)
  assert.equal(await head.text(), '')
})

test('a readiness check that throws is a 500, and the server keeps answering', async () => {
  const failing = createHealthServer({
    ...deps,
    readiness: () => Promise.reject(new Error('boom')),
    logger: createLogger('test', 'silent'),
  })
  const port = await failing.listen(0, '127.0.0.1')
  try {
    assert.equal((await fetch(`http://127.0.0.1:${port}/readyz`)).status, 500)
    assert.equal((await fetch(`http://127.0.0.1:${port}/healthz`)).status, 200)
  } finally {
    await failing.close()
  }
})

test('healthAnswer is the same answer without a server (for a framework’s own routes)', async () => {
  assert.deepEqual(await healthAnswer('GET', '/healthz', deps), {
    status: 200,
    contentType: 'application/json',
    body: '{"status":"ok"}\n',
  })
  assert.equal((await healthAnswer('DELETE', '/metrics', deps)).status, 405)
})
