// A traced gateway process (--import @tidings/runtime/otel, as `pnpm start` runs it) exporting OTLP
// http/json to a collector in this test: the WebSocket handshake is traced like any HTTP request.
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { createServer } from 'node:http'
import { test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { freePorts, infraFromEnv, waitFor } from '@tidings/test/infra'
import { rawUpgrade } from '@tidings/test/support/raw-ws'
import { signUserToken, TEST_JWT_SECRET } from '@tidings/test/support/tokens'

interface OtlpSpan {
  name: string
  kind: number
  traceId: string
  spanId: string
  parentSpanId?: string
  attributes: { key: string; value: { intValue?: number | string } }[]
}

const main = fileURLToPath(new URL('./main.ts', import.meta.url))
const statusOf = (s: OtlpSpan) =>
  Number(s.attributes.find((a) => a.key === 'http.response.status_code')?.value.intValue)

test('a handshake is a GET /v1/ws server span: its status, the client’s traceparent, the checks’ Redis commands inside', async () => {
  const spans: OtlpSpan[] = []
  const collector = createServer((req, res) => {
    let body = ''
    req.on('data', (c: Buffer) => {
      body += c
    })
    req.on('end', () => {
      for (const rs of JSON.parse(body).resourceSpans ?? [])
        for (const ss of rs.scopeSpans ?? []) spans.push(...(ss.spans ?? []))
      res.end('{}')
    })
  })
  collector.listen(0, '127.0.0.1')
  await once(collector, 'listening')
  const [port] = await freePorts(1)
  const child = spawn(process.execPath, ['--import', '@tidings/runtime/otel', main], {
    env: {
      PATH: process.env.PATH ?? '',
      REDIS_URL: infraFromEnv().redisUrl,
      PORT: String(port),
      HOST: '127.0.0.1',
      JWT_ALGORITHMS: 'HS256',
      JWT_SECRET: TEST_JWT_SECRET,
      DEV_MODE: 'true',
      LOG_LEVEL: 'warn',
      OTEL_TRACES_EXPORTER: 'otlp',
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
      OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${(collector.address() as { port: number }).port}`,
      OTEL_BSP_SCHEDULE_DELAY: '50',
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  })
  try {
    const url = `http://127.0.0.1:${port}`
    await waitFor(
      () =>
        fetch(`${url}/healthz`).then(
          (r) => r.ok,
          () => false,
        ),
      { timeoutMs: 30_000 },
    )
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736'
    const refused = await rawUpgrade(url, '/v1/ws', { traceparent: `00-${traceId}-00f067aa0ba902b7-01` })
    assert.equal(refused.status, 401)
    const ok = await rawUpgrade(url, '/v1/ws', { authorization: `Bearer ${await signUserToken('u-span')}` })
    assert.equal(ok.status, 101)
    const handshakes = await waitFor(
      () => {
        const found = spans.filter((s) => s.name === 'GET /v1/ws')
        return found.length === 2 ? found : undefined
      },
      { message: `no GET /v1/ws spans: ${JSON.stringify(spans.map((s) => s.name))}` },
    )
    const byStatus = new Map(handshakes.map((s) => [statusOf(s), s]))
    assert.deepEqual([...byStatus.keys()].sort(), [101, 401])
    for (const s of handshakes) assert.equal(s.kind, 2, 'SPAN_KIND_SERVER')
    assert.equal(byStatus.get(401)!.traceId, traceId, 'continues the client’s traceparent')
    // the rate limits' and the session's Redis commands (ioredis traces only inside a span)
    const upgrade = byStatus.get(101)!
    await waitFor(() => spans.some((s) => s.parentSpanId === upgrade.spanId), {
      message: 'no Redis command inside the handshake span',
    })
    ok.socket.destroy()
    await refused.ended
  } finally {
    child.kill('SIGTERM')
    await once(child, 'exit')
    collector.close()
  }
})
