// The settings both services share (Redis, retention): every rule that the schema cannot express.
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, test } from 'node:test'
import { Type } from '@sinclair/typebox'
import { ConfigError, loadConfig } from '@tidings/runtime'
import { DEFAULT_REDIS_TIMEOUT_MS } from './connection.ts'
import { DEFAULT_RETENTION } from './options.ts'
import {
  readerRetentionEnvProperties,
  redisEnvProperties,
  redisTargetFromEnv,
  retentionEnvProperties,
  retentionFromEnv,
} from './settings.ts'

const schema = Type.Object(redisEnvProperties)
const load = (env: Record<string, string>) => redisTargetFromEnv(loadConfig(schema, env))
const dir = mkdtempSync(join(tmpdir(), 'tidings-settings-'))
after(() => rmSync(dir, { recursive: true, force: true }))
const file = (name: string, content: string) => {
  const path = join(dir, name)
  writeFileSync(path, content)
  return path
}

function failsOn(env: Record<string, string>, variable: string, message: RegExp): void {
  assert.throws(
    () => load(env),
    (err: unknown) => {
      assert.ok(err instanceof ConfigError, `expected a ConfigError, got ${String(err)}`)
      assert.equal(err.variable, variable)
      assert.match(err.message, message)
      return true
    },
  )
}

test('a plain URL needs nothing else', () => {
  assert.deepEqual(load({ REDIS_URL: 'redis://r:6379' }), {
    url: 'redis://r:6379',
    timeoutMs: DEFAULT_REDIS_TIMEOUT_MS,
  })
})

test('REDIS_TIMEOUT_MS: how long a connection may go without a reply; nonsense is refused, naming it', () => {
  assert.equal(load({ REDIS_URL: 'redis://r', REDIS_TIMEOUT_MS: '2500' }).timeoutMs, 2500)
  for (const bad of ['0', '50', '1.5', 'soon', '600001'])
    failsOn({ REDIS_URL: 'redis://r', REDIS_TIMEOUT_MS: bad }, 'REDIS_TIMEOUT_MS', /REDIS_TIMEOUT_MS/)
})

test('user, password from a file (trailing newline dropped), TLS with CA, client pair and server name', () => {
  const t = load({
    REDIS_CLUSTER_NODES: 'r1:7000,r2:7001',
    REDIS_USERNAME: 'tidings',
    REDIS_PASSWORD_FILE: file('pw', 's3cret\n'),
    REDIS_TLS: 'true',
    REDIS_TLS_CA_FILE: file('ca.pem', 'CA'),
    REDIS_TLS_CERT_FILE: file('c.pem', 'CERT'),
    REDIS_TLS_KEY_FILE: file('k.pem', 'KEY'),
    REDIS_TLS_SERVERNAME: 'redis.internal',
  })
  assert.deepEqual(t, {
    clusterNodes: [
      { host: 'r1', port: 7000 },
      { host: 'r2', port: 7001 },
    ],
    timeoutMs: DEFAULT_REDIS_TIMEOUT_MS,
    username: 'tidings',
    password: 's3cret',
    tls: { ca: 'CA', cert: 'CERT', key: 'KEY', servername: 'redis.internal' },
  })
})

test('rediss:// turns TLS on by itself', () => {
  assert.deepEqual(load({ REDIS_URL: 'rediss://r:6380', REDIS_TLS_CA_FILE: file('ca2.pem', 'CA') }), {
    url: 'rediss://r:6380',
    timeoutMs: DEFAULT_REDIS_TIMEOUT_MS,
    tls: { ca: 'CA' },
  })
})

test('exactly one of REDIS_URL / REDIS_CLUSTER_NODES', () => {
  failsOn({}, 'REDIS_URL', /exactly one of REDIS_URL or REDIS_CLUSTER_NODES/)
  failsOn({ REDIS_URL: 'redis://r', REDIS_CLUSTER_NODES: 'r:1' }, 'REDIS_CLUSTER_NODES', /exactly one/)
})

test('password and password file are exclusive; a missing or empty file names its variable', () => {
  failsOn(
    { REDIS_URL: 'redis://r', REDIS_PASSWORD: 'a', REDIS_PASSWORD_FILE: file('p2', 'b') },
    'REDIS_PASSWORD',
    /both set/,
  )
  failsOn({ REDIS_URL: 'redis://r', REDIS_PASSWORD_FILE: join(dir, 'nope') }, 'REDIS_PASSWORD_FILE', /ENOENT/)
  failsOn(
    { REDIS_URL: 'redis://r', REDIS_PASSWORD_FILE: file('empty', '\n') },
    'REDIS_PASSWORD_FILE',
    /empty/,
  )
})

test('credentials in the URL and in a variable are a mistake', () => {
  failsOn({ REDIS_URL: 'redis://:pw@r', REDIS_PASSWORD: 'x' }, 'REDIS_PASSWORD', /URL carries a password/)
  failsOn({ REDIS_URL: 'redis://u:pw@r', REDIS_USERNAME: 'x' }, 'REDIS_USERNAME', /URL carries a user/)
})

test('TLS files without TLS, and half a client pair, are refused', () => {
  failsOn({ REDIS_URL: 'redis://r', REDIS_TLS_CA_FILE: file('ca3', 'x') }, 'REDIS_TLS_CA_FILE', /TLS is off/)
  failsOn(
    { REDIS_URL: 'redis://r', REDIS_TLS: 'true', REDIS_TLS_CERT_FILE: file('c2', 'x') },
    'REDIS_TLS_KEY_FILE',
    /go together/,
  )
})

const retention = (env: Record<string, string>) =>
  retentionFromEnv(loadConfig(Type.Object(retentionEnvProperties), env))

test('retention: the defaults are DEFAULT_RETENTION; the state must outlive the inbox', () => {
  assert.deepEqual(retention({}), DEFAULT_RETENTION)
  assert.throws(
    () => retention({ INBOX_TTL_SECONDS: '7200', STATE_TTL_SECONDS: '3600' }),
    (err: unknown) =>
      err instanceof ConfigError &&
      err.variable === 'STATE_TTL_SECONDS' &&
      /^STATE_TTL_SECONDS must be at least INBOX_TTL_SECONDS \(7200\)/.test(err.message),
  )
})

test('retention: the reader’s schema is the writer’s STATE_TTL_SECONDS, nothing else', () => {
  assert.deepEqual(Object.keys(readerRetentionEnvProperties), ['STATE_TTL_SECONDS'])
  assert.equal(readerRetentionEnvProperties.STATE_TTL_SECONDS, retentionEnvProperties.STATE_TTL_SECONDS)
})
