// The start-up check against a real TLS-only redis-server with requirepass and an ACL user: wrong
// credentials and an untrusted certificate are configuration errors naming the setting; a server
// that is not there is not (the service starts and retries).
import assert from 'node:assert/strict'
import { readFileSync, rmSync } from 'node:fs'
import { after, before, test } from 'node:test'
import { ConfigError } from '@tidings/runtime'
import {
  type Certificates,
  freePorts,
  makeCertificates,
  type SecureRedisServer,
  startSecureRedis,
} from '@tidings/test/infra'
import { checkRedisAccess, RedisUnavailable } from './access.ts'
import { createRedisConnection } from './connection.ts'

let certs: Certificates
let redis: SecureRedisServer
const user = { name: 'tidings-app', password: 'user-password-0123456789' }
before(async () => {
  certs = await makeCertificates()
  redis = await startSecureRedis({ ...certs, password: 'default-password-0123', user })
})
after(async () => {
  await redis?.stop()
  if (certs) rmSync(certs.dir, { recursive: true, force: true })
})

const rejectsWith = (target: Parameters<typeof checkRedisAccess>[0], variable: string, message: RegExp) =>
  assert.rejects(checkRedisAccess(target), (err: unknown) => {
    assert.ok(err instanceof ConfigError, `expected a ConfigError, got ${String(err)}`)
    assert.equal(err.variable, variable)
    assert.match(err.message, message)
    return true
  })

test('the ACL user and the requirepass password both pass, and a connection works over TLS', async () => {
  const tls = { ca: certs.ca }
  await checkRedisAccess({ url: redis.url, username: user.name, password: user.password, tls })
  await checkRedisAccess({ url: redis.url, password: 'default-password-0123', tls })
  const client = createRedisConnection(
    { url: redis.url, username: user.name, password: user.password, tls },
    { name: 'access-test' },
  )
  try {
    assert.equal(await client.ping(), 'PONG')
    assert.equal(await client.acl('WHOAMI'), user.name)
  } finally {
    client.disconnect()
  }
})

test('a wrong password names REDIS_PASSWORD', () =>
  rejectsWith(
    { url: redis.url, username: user.name, password: 'wrong', tls: { ca: certs.ca } },
    'REDIS_PASSWORD',
    /WRONGPASS/,
  ))

test('no password at all names REDIS_PASSWORD', () =>
  rejectsWith({ url: redis.url, tls: { ca: certs.ca } }, 'REDIS_PASSWORD', /NOAUTH/))

test('a certificate from another CA names REDIS_TLS_CA_FILE', () =>
  rejectsWith(
    { url: redis.url, password: 'x', tls: { ca: readFileSync(certs.otherCaFile, 'utf8') } },
    'REDIS_TLS_CA_FILE',
    /SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_VERIFY/,
  ))

test('a Redis that is not listening is unavailability, not a configuration error', async () => {
  const [port] = await freePorts(1)
  await assert.rejects(checkRedisAccess({ url: `redis://127.0.0.1:${port}` }), RedisUnavailable)
})

test('an ACL user allowed the keys but not the channels names REDIS_USERNAME', async () => {
  const tls = { ca: certs.ca }
  const admin = createRedisConnection(
    { url: redis.url, password: 'default-password-0123', tls },
    { name: 'access-test-admin' },
  )
  try {
    // every notification would be stored and none delivered live
    await admin.call(
      'ACL',
      'SETUSER',
      'keys-only',
      'on',
      '>keys-only-password-0123',
      '~tdg:*',
      'resetchannels',
      '+@all',
    )
    await rejectsWith(
      { url: redis.url, username: 'keys-only', password: 'keys-only-password-0123', tls },
      'REDIS_USERNAME',
      /may not publish to Tidings' channels \(grant it &tdg:\*\)/,
    )
    // the users' channels only: every broadcast would fail
    await admin.call('ACL', 'SETUSER', 'keys-only', '&tdg:u:*')
    await rejectsWith(
      { url: redis.url, username: 'keys-only', password: 'keys-only-password-0123', tls },
      'REDIS_USERNAME',
      /may not publish to Tidings' channels/,
    )
    await admin.call('ACL', 'SETUSER', 'keys-only', '&tdg:*')
    await checkRedisAccess({
      url: redis.url,
      username: 'keys-only',
      password: 'keys-only-password-0123',
      tls,
    })
  } finally {
    admin.disconnect()
  }
})
