// The Kafka TLS/SASL settings: every rule the schema cannot express. (Against a real SASL_SSL broker:
// test/e2e/secure.test.ts.)
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, test } from 'node:test'
import { ConfigError } from '@tidings/runtime'
import { loadDispatcherConfig } from './config.ts'

const minimal = { KAFKA_BROKERS: 'k1:9093', REDIS_URL: 'redis://r:6379' }
const dir = mkdtempSync(join(tmpdir(), 'tidings-kafka-sec-'))
after(() => rmSync(dir, { recursive: true, force: true }))
const file = (name: string, content: string) => {
  const path = join(dir, name)
  writeFileSync(path, content)
  return path
}

function failsOn(env: Record<string, string>, variable: string, message: RegExp): void {
  assert.throws(
    () => loadDispatcherConfig({ ...minimal, ...env }),
    (err: unknown) => {
      assert.ok(err instanceof ConfigError, `expected a ConfigError, got ${String(err)}`)
      assert.equal(err.variable, variable)
      assert.match(err.message, message)
      return true
    },
  )
}

test('no TLS and no SASL by default', () => {
  assert.deepEqual(loadDispatcherConfig(minimal).kafka.security, {})
})

test('SCRAM with credentials from files, TLS with a CA and a client certificate', () => {
  const c = loadDispatcherConfig({
    ...minimal,
    KAFKA_TLS: 'true',
    KAFKA_TLS_CA_FILE: file('ca', 'CA\n'),
    KAFKA_TLS_CERT_FILE: file('cert', 'CERT'),
    KAFKA_TLS_KEY_FILE: file('key', 'KEY'),
    KAFKA_SASL_MECHANISM: 'scram-sha-512',
    KAFKA_SASL_USERNAME_FILE: file('user', 'tidings\n'),
    KAFKA_SASL_PASSWORD_FILE: file('pw', 'pw-123\n'),
  })
  assert.deepEqual(c.kafka.security, {
    ssl: { ca: 'CA', cert: 'CERT', key: 'KEY' },
    sasl: { mechanism: 'scram-sha-512', username: 'tidings', password: 'pw-123' },
  })
})

test('an unknown mechanism is refused by the schema', () => {
  failsOn({ KAFKA_SASL_MECHANISM: 'gssapi' }, 'KAFKA_SASL_MECHANISM', /allowed values/)
})

test('a mechanism needs a user and a password; credentials need a mechanism', () => {
  failsOn({ KAFKA_SASL_MECHANISM: 'plain', KAFKA_SASL_PASSWORD: 'x' }, 'KAFKA_SASL_USERNAME', /required/)
  failsOn({ KAFKA_SASL_MECHANISM: 'plain', KAFKA_SASL_USERNAME: 'u' }, 'KAFKA_SASL_PASSWORD', /required/)
  failsOn({ KAFKA_SASL_USERNAME: 'u', KAFKA_SASL_PASSWORD: 'p' }, 'KAFKA_SASL_USERNAME', /MECHANISM is not/)
})

test('a value and its file are exclusive; an unreadable file names its variable', () => {
  failsOn(
    {
      KAFKA_SASL_MECHANISM: 'plain',
      KAFKA_SASL_USERNAME: 'u',
      KAFKA_SASL_PASSWORD: 'a',
      KAFKA_SASL_PASSWORD_FILE: file('p2', 'b'),
    },
    'KAFKA_SASL_PASSWORD',
    /both set/,
  )
  failsOn({ KAFKA_TLS: 'true', KAFKA_TLS_CA_FILE: join(dir, 'missing') }, 'KAFKA_TLS_CA_FILE', /ENOENT/)
})

test('TLS files without KAFKA_TLS, and half a client pair, are refused', () => {
  failsOn({ KAFKA_TLS_CA_FILE: file('ca2', 'CA') }, 'KAFKA_TLS_CA_FILE', /KAFKA_TLS is not true/)
  failsOn({ KAFKA_TLS: 'true', KAFKA_TLS_KEY_FILE: file('k2', 'K') }, 'KAFKA_TLS_CERT_FILE', /go together/)
})
