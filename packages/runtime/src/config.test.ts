import assert from 'node:assert/strict'
import { test } from 'node:test'
import { Type } from '@sinclair/typebox'
import { ConfigError, loadConfig } from './config.ts'

const schema = Type.Object({
  REDIS_URL: Type.String({ pattern: '^rediss?://' }),
  PORT: Type.Integer({ minimum: 1, maximum: 65535, default: 8080 }),
  DEBUG_FRAMES: Type.Boolean({ default: false }),
})

test('coerces types and applies defaults', () => {
  const c = loadConfig(schema, { REDIS_URL: 'redis://h:1', DEBUG_FRAMES: 'true', UNRELATED: 'x' })
  assert.deepEqual(c, { REDIS_URL: 'redis://h:1', PORT: 8080, DEBUG_FRAMES: true })
})

test('a missing variable is named in the error', () => {
  assert.throws(
    () => loadConfig(schema, {}),
    (err: unknown) =>
      err instanceof ConfigError && err.variable === 'REDIS_URL' && /REDIS_URL is required/.test(err.message),
  )
})

test('a wrong value is named in the error', () => {
  assert.throws(
    () => loadConfig(schema, { REDIS_URL: 'redis://h', PORT: '70000' }),
    (err: unknown) =>
      err instanceof ConfigError && err.variable === 'PORT' && /PORT must be <= 65535/.test(err.message),
  )
  assert.throws(() => loadConfig(schema, { REDIS_URL: 'http://h' }), /REDIS_URL must match pattern/)
})

test('an empty string counts as unset', () => {
  assert.equal(loadConfig(schema, { REDIS_URL: 'redis://h', PORT: '' }).PORT, 8080)
})
