import assert from 'node:assert/strict'
import { test } from 'node:test'
import { ConfigError } from '@tidings/runtime'
import { loadGatewayConfig } from './config.ts'

const base = {
  REDIS_URL: 'redis://127.0.0.1:6379',
  JWT_ALGORITHMS: 'HS256',
  JWT_SECRET: 'a-secret-of-at-least-thirty-two-bytes-0123',
  JWT_ISSUER: 'https://id.example.com',
  JWT_AUDIENCE: 'tidings',
}

function failsOn(env: Record<string, string>, variable: string, message: RegExp): void {
  assert.throws(
    () => loadGatewayConfig({ ...base, ...env }),
    (err: unknown) => {
      assert.ok(err instanceof ConfigError, String(err))
      assert.equal(err.variable, variable)
      assert.match(err.message, message)
      return true
    },
  )
}

test('defaults load; cross-field rules name the variable', () => {
  const c = loadGatewayConfig(base)
  assert.equal(c.SSE_MAX_STREAM_MS, 300_000)
  assert.ok(c.MAX_QUEUED_FRAMES >= c.RATE_LIMIT_BURST, 'a whole burst fits behind a slow handler')
  failsOn(
    { RATE_LIMIT_PER_SECOND: '50', RATE_LIMIT_BURST: '40' },
    'RATE_LIMIT_BURST',
    /RATE_LIMIT_PER_SECOND/,
  )
  failsOn({ DRAIN_MS: '30000' }, 'SHUTDOWN_GRACE_MS', /DRAIN_MS/)
  failsOn({ SSE_MAX_STREAM_MS: '10' }, 'SSE_MAX_STREAM_MS', /1000/)
})

test('a bad STATE_TTL_SECONDS is a named setting error, as in the dispatcher', () => {
  assert.equal(loadGatewayConfig(base).STATE_TTL_SECONDS, 2_592_000)
  failsOn({ STATE_TTL_SECONDS: 'month' }, 'STATE_TTL_SECONDS', /integer/)
  failsOn({ STATE_TTL_SECONDS: '59' }, 'STATE_TTL_SECONDS', />= 60/)
})

test('the dispatcher-only retention settings are not the gateway’s: any value is ignored', () => {
  // INBOX_CAP above any bound, TTLs that are not numbers: the gateway never reads them
  const c = loadGatewayConfig({
    ...base,
    INBOX_CAP: '5000000',
    INBOX_TTL_SECONDS: 'a day',
    DEDUPE_WINDOW_SECONDS: '-1',
  })
  for (const variable of ['INBOX_CAP', 'INBOX_TTL_SECONDS', 'DEDUPE_WINDOW_SECONDS'])
    assert.ok(!(variable in c), variable)
})

test('LOG_LEVEL is the dispatcher’s setting too (one schema in @tidings/runtime)', () => {
  assert.equal(loadGatewayConfig(base).LOG_LEVEL, 'info')
  failsOn({ LOG_LEVEL: 'loud' }, 'LOG_LEVEL', /allowed values/)
})
