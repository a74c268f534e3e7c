import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'

const run = promisify(execFile)
const path = (p: string) => fileURLToPath(new URL(p, import.meta.url))

/** Runs the fixture app with `--import otel.ts` under `env`; returns what it printed. */
async function traced(env: Record<string, string>): Promise<{
  enabled: boolean
  sdkLoaded: boolean
  log: Record<string, unknown>
}> {
  const { stdout } = await run(
    process.execPath,
    [
      '--import',
      path('./testing/record-loads.ts'),
      '--import',
      path('./otel.ts'),
      path('./testing/traced-app.ts'),
    ],
    // nothing listens on port 9: the exporter's failure must not matter to the application
    { env: { PATH: process.env.PATH ?? '', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:9', ...env } },
  )
  return JSON.parse(stdout.trim().split('\n').pop()!)
}

test('tracing off (no OTEL_TRACES_EXPORTER): the SDK is not even loaded, logs carry no trace ids', async () => {
  const off = await traced({})
  assert.equal(off.enabled, false)
  assert.equal(off.sdkLoaded, false)
  assert.equal(off.log.msg, 'inside a span')
  assert.equal(off.log.trace_id, undefined)
  for (const value of ['none', 'console', '']) {
    assert.equal((await traced({ OTEL_TRACES_EXPORTER: value })).sdkLoaded, false, value)
  }
  assert.equal((await traced({ OTEL_TRACES_EXPORTER: 'otlp', OTEL_SDK_DISABLED: 'true' })).sdkLoaded, false)
})

test('OTEL_TRACES_EXPORTER=otlp starts the SDK; pino lines inside a span carry trace_id and span_id', async () => {
  for (const protocol of ['http/protobuf', 'http/json']) {
    const on = await traced({ OTEL_TRACES_EXPORTER: 'otlp', OTEL_EXPORTER_OTLP_PROTOCOL: protocol })
    assert.equal(on.enabled, true)
    assert.equal(on.sdkLoaded, true)
    assert.match(String(on.log.trace_id), /^[0-9a-f]{32}$/)
    assert.match(String(on.log.span_id), /^[0-9a-f]{16}$/)
  }
})

test('a bad OTEL_* setting stops the process at start: exit 78 and one line naming the variable', async () => {
  for (const [name, value] of [
    ['OTEL_EXPORTER_OTLP_PROTOCOL', 'http/xml'],
    ['OTEL_TRACES_SAMPLER_ARG', '10'],
    ['OTEL_TRACES_SAMPLER', 'sometimes'],
    ['OTEL_EXPORTER_OTLP_ENDPOINT', 'jaeger:4318'],
  ] as const) {
    const res = await run(
      process.execPath,
      ['--import', path('./otel.ts'), path('./testing/traced-app.ts')],
      {
        env: { PATH: process.env.PATH ?? '', OTEL_TRACES_EXPORTER: 'otlp', [name]: value },
      },
    ).then(
      () => assert.fail(`${name}=${value} was accepted`),
      (e: { code: number; stderr: string; stdout: string }) => e,
    )
    assert.equal(res.code, 78, name)
    assert.equal(res.stdout, '')
    assert.match(res.stderr, new RegExp(`^tidings-runtime: configuration error: .*${name}`))
    assert.equal(res.stderr.trim().split('\n').length, 1, res.stderr)
  }
})
