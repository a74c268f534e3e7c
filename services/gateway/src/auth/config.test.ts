import assert from 'node:assert/strict'
import { generateKeyPairSync } from 'node:crypto'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { Type } from '@sinclair/typebox'
import { ConfigError, loadConfig } from '@tidings/runtime'
import { type AuthEnv, authEnvProperties, authOptionsFromEnv, DEV_JWT_SECRET } from './config.ts'

const schema = Type.Object(authEnvProperties)
// The path the gateway takes: schema (types, defaults) and then the cross-field rules.
// DEV_MODE by default: most tests here are about other variables than issuer and audience.
const fromEnv = (env: Record<string, string>) =>
  authOptionsFromEnv(loadConfig(schema, { DEV_MODE: 'true', ...env }))

const pem = (type: 'rsa' | 'ec' | 'ed25519', part: 'publicKey' | 'privateKey' = 'publicKey') => {
  const pair =
    type === 'rsa'
      ? generateKeyPairSync('rsa', { modulusLength: 2048 })
      : type === 'ec'
        ? generateKeyPairSync('ec', { namedCurve: 'P-256' })
        : generateKeyPairSync('ed25519')
  return pair[part].export({ type: part === 'publicKey' ? 'spki' : 'pkcs8', format: 'pem' }).toString()
}
const RSA = pem('rsa')
const SECRET = 's'.repeat(32)

function throwsFor(variable: string, env: Record<string, string>, message?: RegExp) {
  assert.throws(
    () => fromEnv(env),
    (err: unknown) => {
      assert.ok(err instanceof ConfigError, `expected ConfigError, got ${String(err)}`)
      assert.equal(err.variable, variable, err.message)
      assert.ok(err.message.startsWith(variable), err.message)
      if (message) assert.match(err.message, message)
      return true
    },
  )
}

test('HS256 with a secret: defaults and parsed lists', () => {
  const o = fromEnv({
    JWT_ALGORITHMS: ' HS256 , HS256',
    JWT_SECRET: SECRET,
    JWT_AUDIENCE: 'app, partner',
    JWT_ISSUER: 'https://id.example.com',
    ALLOWED_ORIGINS: 'https://app.example.com, http://localhost:3000',
  })
  assert.deepEqual(o.algorithms, ['HS256'])
  assert.equal(o.secret?.symmetricKeySize, 32)
  assert.equal(o.publicKey, undefined)
  assert.equal(o.clockToleranceS, 5)
  assert.deepEqual(o.audience, ['app', 'partner'])
  assert.equal(o.issuer, 'https://id.example.com')
  assert.deepEqual([...o.allowedOrigins], ['https://app.example.com', 'http://localhost:3000'])
  assert.deepEqual(o.serviceTokenDigests, [])
})

test('asymmetric key sources: PEM text (also with escaped newlines), PEM file, JWKS URL', () => {
  assert.equal(
    fromEnv({ JWT_ALGORITHMS: 'RS256,PS256', JWT_PUBLIC_KEY: RSA }).publicKey?.asymmetricKeyType,
    'rsa',
  )
  const oneLine = RSA.trim().replace(/\n/g, '\\n')
  assert.ok(fromEnv({ JWT_ALGORITHMS: 'RS256', JWT_PUBLIC_KEY: oneLine }).publicKey)
  const file = join(mkdtempSync(join(tmpdir(), 'auth-')), 'key.pem')
  writeFileSync(file, pem('ed25519'))
  assert.equal(
    fromEnv({ JWT_ALGORITHMS: 'EdDSA', JWT_PUBLIC_KEY_FILE: file }).publicKey?.asymmetricKeyType,
    'ed25519',
  )
  const jwks = fromEnv({
    JWT_ALGORITHMS: 'ES256',
    JWT_JWKS_URL: 'https://id.example.com/.well-known/jwks.json',
  })
  assert.equal(jwks.jwksUrl?.href, 'https://id.example.com/.well-known/jwks.json')
  assert.ok(fromEnv({ JWT_ALGORITHMS: 'ES256', JWT_JWKS_URL: 'http://127.0.0.1:9000/jwks' }).jwksUrl)
  assert.ok(fromEnv({ JWT_ALGORITHMS: 'ES256', JWT_JWKS_URL: 'http://localhost/jwks' }).jwksUrl)
  // Both families at once: each gets its own source.
  const mixed = fromEnv({ JWT_ALGORITHMS: 'HS256,RS256', JWT_SECRET: SECRET, JWT_PUBLIC_KEY: RSA })
  assert.ok(mixed.secret && mixed.publicKey)
})

test('JWT_ALGORITHMS: required, never none, only known names', () => {
  throwsFor('JWT_ALGORITHMS', { JWT_SECRET: SECRET }, /required/)
  throwsFor('JWT_ALGORITHMS', { JWT_ALGORITHMS: 'HS256,none', JWT_SECRET: SECRET }, /none/)
  throwsFor('JWT_ALGORITHMS', { JWT_ALGORITHMS: 'NONE' }, /none/)
  throwsFor('JWT_ALGORITHMS', { JWT_ALGORITHMS: 'rs256', JWT_PUBLIC_KEY: RSA }, /unsupported/)
  throwsFor('JWT_ALGORITHMS', { JWT_ALGORITHMS: ' , ' }, /must list/)
})

test('JWT_SECRET: required for HS*, long enough for the hash, refused without HS*', () => {
  throwsFor('JWT_SECRET', { JWT_ALGORITHMS: 'HS256' }, /required for HS256/)
  throwsFor('JWT_SECRET', { JWT_ALGORITHMS: 'HS256', JWT_SECRET: 's'.repeat(31) }, /at least 32 bytes/)
  throwsFor('JWT_SECRET', { JWT_ALGORITHMS: 'HS256,HS512', JWT_SECRET: SECRET }, /at least 64 bytes/)
  throwsFor('JWT_SECRET', { JWT_ALGORITHMS: 'RS256', JWT_PUBLIC_KEY: RSA, JWT_SECRET: SECRET }, /no HS/)
})

test('asymmetric algorithms need exactly one fitting public key source', () => {
  throwsFor('JWT_PUBLIC_KEY', { JWT_ALGORITHMS: 'RS256' }, /required for RS256/)
  throwsFor('JWT_PUBLIC_KEY', { JWT_ALGORITHMS: 'HS256', JWT_SECRET: SECRET, JWT_PUBLIC_KEY: RSA }, /only HS/)
  throwsFor('JWT_JWKS_URL', { JWT_ALGORITHMS: 'RS256', JWT_PUBLIC_KEY: RSA, JWT_JWKS_URL: 'https://x/jwks' })
  throwsFor('JWT_PUBLIC_KEY', { JWT_ALGORITHMS: 'ES256', JWT_PUBLIC_KEY: RSA }, /cannot verify ES256/)
  throwsFor('JWT_PUBLIC_KEY', { JWT_ALGORITHMS: 'ES384', JWT_PUBLIC_KEY: pem('ec') }, /cannot verify ES384/)
  throwsFor('JWT_PUBLIC_KEY', { JWT_ALGORITHMS: 'RS256', JWT_PUBLIC_KEY: 'not a key' }, /not a PEM/)
  throwsFor(
    'JWT_PUBLIC_KEY',
    { JWT_ALGORITHMS: 'RS256', JWT_PUBLIC_KEY: pem('rsa', 'privateKey') },
    /not a private/,
  )
  throwsFor(
    'JWT_PUBLIC_KEY_FILE',
    { JWT_ALGORITHMS: 'RS256', JWT_PUBLIC_KEY_FILE: '/nonexistent/key.pem' },
    /ENOENT/,
  )
  throwsFor('JWT_JWKS_URL', { JWT_ALGORITHMS: 'RS256', JWT_JWKS_URL: 'http://id.example.com/jwks' }, /https/)
  throwsFor('JWT_JWKS_URL', { JWT_ALGORITHMS: 'RS256', JWT_JWKS_URL: 'not a url' })
})

test('ALLOWED_ORIGINS: exact origins only', () => {
  for (const bad of [
    '*',
    'https://*.example.com',
    'https://app.example.com/',
    'https://app.example.com/path',
    'app.example.com',
    'https://App.example.com',
    'https://app.example.com:443',
    'null',
    'ftp://app.example.com',
  ]) {
    throwsFor('ALLOWED_ORIGINS', {
      JWT_ALGORITHMS: 'HS256',
      JWT_SECRET: SECRET,
      ALLOWED_ORIGINS: `https://ok.example.com,${bad}`,
    })
  }
  assert.equal(
    fromEnv({ JWT_ALGORITHMS: 'HS256', JWT_SECRET: SECRET, ALLOWED_ORIGINS: '' }).allowedOrigins.size,
    0,
  )
})

test('JWT_CLOCK_TOLERANCE_S is capped at 30, by the schema and by authOptionsFromEnv alone', () => {
  throwsFor('JWT_CLOCK_TOLERANCE_S', {
    JWT_ALGORITHMS: 'HS256',
    JWT_SECRET: SECRET,
    JWT_CLOCK_TOLERANCE_S: '31',
  })
  assert.equal(
    fromEnv({ JWT_ALGORITHMS: 'HS256', JWT_SECRET: SECRET, JWT_CLOCK_TOLERANCE_S: '30' }).clockToleranceS,
    30,
  )
  const env: AuthEnv = {
    JWT_ALGORITHMS: 'HS256',
    JWT_SECRET: SECRET,
    JWT_CLOCK_TOLERANCE_S: 31,
    JWT_MAX_LIFETIME_S: 86_400,
    DEV_MODE: true,
  }
  assert.throws(
    () => authOptionsFromEnv(env),
    (e: unknown) => e instanceof ConfigError && e.variable === 'JWT_CLOCK_TOLERANCE_S',
  )
})

test('SERVICE_TOKENS: long opaque values, kept only as digests, never echoed in errors', () => {
  const token = 'svc_0123456789abcdefghijklmnop'
  const o = fromEnv({ JWT_ALGORITHMS: 'HS256', JWT_SECRET: SECRET, SERVICE_TOKENS: `${token}, ${token}x` })
  assert.equal(o.serviceTokenDigests.length, 2)
  assert.ok(o.serviceTokenDigests.every((d) => d.length === 32 && !d.toString('latin1').includes(token)))
  const short = 'tooshort-secret-value'
  assert.throws(
    () => fromEnv({ JWT_ALGORITHMS: 'HS256', JWT_SECRET: SECRET, SERVICE_TOKENS: `${token},${short}` }),
    (e: unknown) =>
      e instanceof ConfigError &&
      e.variable === 'SERVICE_TOKENS' &&
      /entry 2/.test(e.message) &&
      !e.message.includes(short),
  )
})

test('JWT_ISSUER and JWT_AUDIENCE are required unless DEV_MODE; the README secret only with DEV_MODE', () => {
  const base = { JWT_ALGORITHMS: 'HS256', JWT_SECRET: SECRET, DEV_MODE: 'false' }
  throwsFor('JWT_ISSUER', { ...base, JWT_AUDIENCE: 'tidings' }, /required/)
  throwsFor('JWT_AUDIENCE', { ...base, JWT_ISSUER: 'https://id.example.com' }, /required/)
  throwsFor('JWT_AUDIENCE', { ...base, JWT_ISSUER: 'https://id.example.com', JWT_AUDIENCE: ' , ' })
  const scoped = { ...base, JWT_ISSUER: 'https://id.example.com', JWT_AUDIENCE: 'tidings' }
  assert.equal(fromEnv(scoped).issuer, 'https://id.example.com')
  throwsFor('JWT_SECRET', { ...scoped, JWT_SECRET: DEV_JWT_SECRET }, /DEV_MODE/)
  throwsFor('JWT_SECRET', { ...scoped, JWT_SECRET: `${DEV_JWT_SECRET}\n` }, /DEV_MODE/)
  // DEV_MODE: both may be left out, and the README's secret is accepted
  const dev = fromEnv({ JWT_ALGORITHMS: 'HS256', JWT_SECRET: DEV_JWT_SECRET, DEV_MODE: 'true' })
  assert.equal(dev.issuer, undefined)
  assert.equal(dev.audience, undefined)
  assert.equal(dev.maxLifetimeS, 86_400)
})
