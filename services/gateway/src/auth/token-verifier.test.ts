import assert from 'node:assert/strict'
import { generateKeyPairSync, type KeyObject } from 'node:crypto'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { test } from 'node:test'
import { type CryptoKey, exportJWK, exportSPKI, generateKeyPair, type JWTPayload, SignJWT } from 'jose'
import { authOptionsFromEnv } from './config.ts'
import { AuthError, type AuthErrorCode, authErrorStatus, createTokenVerifier } from './token-verifier.ts'

const SECRET = 'a-secret-of-at-least-32-bytes-long!!'
const now = () => Math.floor(Date.now() / 1000)
const verifierFor = (env: Record<string, string>) =>
  createTokenVerifier(
    authOptionsFromEnv({
      JWT_CLOCK_TOLERANCE_S: 5,
      JWT_MAX_LIFETIME_S: 86_400,
      DEV_MODE: true,
      JWT_ALGORITHMS: '',
      ...env,
    }),
  )

interface SignOpts {
  alg: string
  key: CryptoKey | KeyObject | Uint8Array
  kid?: string
  sub?: string | null
  exp?: number | null
  claims?: JWTPayload
}
function sign({ alg, key, kid, sub = 'b-1042', exp = now() + 300, claims = {} }: SignOpts): Promise<string> {
  const jwt = new SignJWT(claims).setProtectedHeader(kid ? { alg, kid } : { alg }).setIssuedAt()
  if (sub !== null) jwt.setSubject(sub)
  if (exp !== null) jwt.setExpirationTime(exp)
  return jwt.sign(key)
}
const hs = (claims: Partial<SignOpts> = {}) =>
  sign({ alg: 'HS256', key: new TextEncoder().encode(SECRET), ...claims })

async function rejects(promise: Promise<unknown>, code: AuthErrorCode, token?: string) {
  await assert.rejects(promise, (err: unknown) => {
    assert.ok(err instanceof AuthError, `expected AuthError, got ${String(err)}`)
    assert.equal(err.code, code, err.message)
    // No part of the token (not even the payload segment) appears in the message.
    if (token)
      for (const part of token.split('.'))
        if (part.length > 3) assert.ok(!err.message.includes(part), err.message)
    return true
  })
}

// A KeyObject pair, not a CryptoKey: it can sign RS384 too, for the allow-list test.
const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 })
const rsaPem = rsa.publicKey.export({ type: 'spki', format: 'pem' }).toString()

test('valid HS256: principal with user id, expiry in ms and topics', async () => {
  const v = verifierFor({ JWT_ALGORITHMS: 'HS256', JWT_SECRET: SECRET })
  const exp = now() + 120
  const p = await v.verify(
    await hs({ exp, claims: { topics: ['announcements', 'promo.bn', 'announcements'] } }),
  )
  assert.equal(typeof p.issuedAt, 'number')
  assert.deepEqual(p, {
    userId: 'b-1042',
    expiresAt: exp * 1000,
    issuedAt: p.issuedAt,
    topics: ['announcements', 'promo.bn'],
  })
  assert.deepEqual((await v.verify(await hs())).topics, [])
})

test('valid RS256 with a PEM key; a token signed by another key is refused', async () => {
  const v = verifierFor({ JWT_ALGORITHMS: 'RS256', JWT_PUBLIC_KEY: rsaPem })
  assert.equal((await v.verify(await sign({ alg: 'RS256', key: rsa.privateKey }))).userId, 'b-1042')
  const other = await generateKeyPair('RS256')
  const forged = await sign({ alg: 'RS256', key: other.privateKey })
  await rejects(v.verify(forged), 'token_invalid', forged)
})

test('valid EdDSA with a PEM key', async () => {
  const ed = await generateKeyPair('EdDSA', { extractable: true })
  const v = verifierFor({ JWT_ALGORITHMS: 'EdDSA', JWT_PUBLIC_KEY: await exportSPKI(ed.publicKey) })
  assert.equal((await v.verify(await sign({ alg: 'EdDSA', key: ed.privateKey }))).userId, 'b-1042')
})

test('ES256 from a real JWKS endpoint; unknown kid refused; endpoint down is auth_unavailable', async (t) => {
  const es = await generateKeyPair('ES256', { extractable: true })
  const jwk = { ...(await exportJWK(es.publicKey)), kid: 'k1', alg: 'ES256', use: 'sig' }
  let fail = false
  const server = createServer((_req, res) => {
    if (fail) return void res.writeHead(500).end()
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: [jwk] }))
  })
  server.listen(0, '127.0.0.1')
  t.after(() => server.close())
  await new Promise((r) => server.once('listening', r))
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/jwks`

  const v = verifierFor({ JWT_ALGORITHMS: 'ES256', JWT_JWKS_URL: url })
  assert.equal((await v.verify(await sign({ alg: 'ES256', key: es.privateKey, kid: 'k1' }))).userId, 'b-1042')
  const unknown = await sign({ alg: 'ES256', key: es.privateKey, kid: 'k2' })
  await rejects(v.verify(unknown), 'token_invalid', unknown)

  // A fresh verifier (no cached keys) against an endpoint that fails: not the token's fault.
  fail = true
  const down = verifierFor({ JWT_ALGORITHMS: 'ES256', JWT_JWKS_URL: url })
  const token = await sign({ alg: 'ES256', key: es.privateKey, kid: 'k1' })
  await rejects(down.verify(token), 'auth_unavailable', token)
  await down.verify(token).catch((err: AuthError) => assert.equal(authErrorStatus(err), 503))
})

test('alg none is refused, even when crafted by hand', async () => {
  const b64 = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url')
  const payload = b64({ sub: 'b-1042', exp: now() + 300 })
  const envs: Record<string, string>[] = [
    { JWT_ALGORITHMS: 'HS256', JWT_SECRET: SECRET },
    { JWT_ALGORITHMS: 'RS256', JWT_PUBLIC_KEY: rsaPem },
  ]
  for (const env of envs) {
    const v = verifierFor(env)
    for (const alg of ['none', 'None', 'NONE']) {
      const token = `${b64({ alg, typ: 'JWT' })}.${payload}.`
      await rejects(v.verify(token), 'token_invalid', token)
    }
  }
})

test('key confusion: HS256 signed with the RSA public key as secret is refused', async () => {
  const asSecret = new TextEncoder().encode(rsaPem)
  const attack = await sign({ alg: 'HS256', key: asSecret })
  // Only RS256 allowed: the algorithm is refused outright.
  await rejects(
    verifierFor({ JWT_ALGORITHMS: 'RS256', JWT_PUBLIC_KEY: rsaPem }).verify(attack),
    'token_invalid',
    attack,
  )
  // Both allowed: HS256 is checked against the configured secret, never the public key.
  const mixed = verifierFor({ JWT_ALGORITHMS: 'HS256,RS256', JWT_SECRET: SECRET, JWT_PUBLIC_KEY: rsaPem })
  await rejects(mixed.verify(attack), 'token_invalid', attack)
  assert.ok(await mixed.verify(await hs()))
  assert.ok(await mixed.verify(await sign({ alg: 'RS256', key: rsa.privateKey })))
  // And RS384 is outside an RS256-only list even with the right key.
  const rs384 = await sign({ alg: 'RS384', key: rsa.privateKey })
  await rejects(
    verifierFor({ JWT_ALGORITHMS: 'RS256', JWT_PUBLIC_KEY: rsaPem }).verify(rs384),
    'token_invalid',
  )
})

test('expiry: beyond the tolerance is token_expired, within it is accepted', async () => {
  const v = verifierFor({ JWT_ALGORITHMS: 'HS256', JWT_SECRET: SECRET })
  const expired = await hs({ exp: now() - 10 })
  await rejects(v.verify(expired), 'token_expired', expired)
  assert.equal((await v.verify(await hs({ exp: now() - 2 }))).userId, 'b-1042')
  // A forged token is invalid, not "expired": expiry is only judged after the signature.
  const forged = await sign({ alg: 'HS256', key: new TextEncoder().encode('x'.repeat(32)), exp: now() - 100 })
  await rejects(v.verify(forged), 'token_invalid', forged)
})

test('required claims: exp and a valid sub', async () => {
  const v = verifierFor({ JWT_ALGORITHMS: 'HS256', JWT_SECRET: SECRET })
  for (const token of [
    await hs({ exp: null }),
    await hs({ sub: null }),
    await hs({ sub: 'a b' }),
    await hs({ sub: '{b-1}' }),
    await hs({ sub: 'x'.repeat(129) }),
  ]) {
    await rejects(v.verify(token), 'token_invalid', token)
  }
})

test('issuer and audience are checked when configured (audience may be a list)', async () => {
  const v = verifierFor({
    JWT_ALGORITHMS: 'HS256',
    JWT_SECRET: SECRET,
    JWT_ISSUER: 'https://id.example.com',
    JWT_AUDIENCE: 'tidings,partner',
  })
  const ok = { iss: 'https://id.example.com', aud: 'partner' }
  assert.equal((await v.verify(await hs({ claims: ok }))).userId, 'b-1042')
  for (const claims of [
    { ...ok, iss: 'https://evil.example.com' },
    { ...ok, aud: 'other' },
    { aud: 'tidings' },
    { iss: ok.iss },
  ]) {
    const token = await hs({ claims })
    await rejects(v.verify(token), 'token_invalid', token)
  }
  // Not configured: not checked.
  const open = verifierFor({ JWT_ALGORITHMS: 'HS256', JWT_SECRET: SECRET })
  assert.ok(await open.verify(await hs({ claims: { iss: 'anyone', aud: 'anything' } })))
})

test('topics claim: an array of valid topic names, otherwise the token is refused', async () => {
  const v = verifierFor({ JWT_ALGORITHMS: 'HS256', JWT_SECRET: SECRET })
  for (const topics of ['announcements', ['ok', 'bad topic'], ['ok', 7], [''], { a: 1 }]) {
    const token = await hs({ claims: { topics } as JWTPayload })
    await rejects(v.verify(token), 'token_invalid', token)
  }
  assert.deepEqual((await v.verify(await hs({ claims: { topics: [] } }))).topics, [])
})

test('empty, oversized and malformed tokens', async () => {
  const v = verifierFor({ JWT_ALGORITHMS: 'HS256', JWT_SECRET: SECRET })
  await rejects(v.verify(''), 'token_missing')
  await rejects(v.verify('x'.repeat(8193)), 'token_invalid')
  for (const token of ['abc', 'a.b.c', 'eyJ.eyJ.', `${await hs()}x`])
    await rejects(v.verify(token), 'token_invalid', token)
})

test('lifetime: exp − iat over JWT_MAX_LIFETIME_S is refused; an absurd exp is refused, not thrown', async () => {
  const v = verifierFor({ JWT_ALGORITHMS: 'HS256', JWT_SECRET: SECRET, JWT_MAX_LIFETIME_S: 3600 } as never)
  assert.equal((await v.verify(await hs({ exp: now() + 3600 }))).userId, 'b-1042')
  const long = await hs({ exp: now() + 3601 + 60 })
  await rejects(v.verify(long), 'token_invalid', long)
  // year 275760 and beyond: new Date(exp * 1000).toISOString() would throw
  for (const exp of [8.64e12, 8.64e12 + 1, 1e300]) {
    const absurd = await hs({ exp })
    await rejects(v.verify(absurd), 'token_invalid', absurd)
  }
  // iat is required: it is what the lifetime and revocations are measured from
  const noIat = await new SignJWT({})
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject('b-1042')
    .setExpirationTime(now() + 7200)
    .sign(new TextEncoder().encode(SECRET))
  await rejects(v.verify(noIat), 'token_invalid', noIat)
  // an iat in the future (here a year ahead, or ms by mistake) would outlive every revocation
  for (const iat of [now() + 365 * 86_400, now() * 1000]) {
    const future = await new SignJWT({})
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject('b-1042')
      .setIssuedAt(iat)
      .setExpirationTime(iat + 600)
      .sign(new TextEncoder().encode(SECRET))
    await rejects(v.verify(future), 'token_invalid', future)
  }
})

test('JWKS: a token without kid is checked against every key that fits (key rotation)', async (t) => {
  const oldKey = await generateKeyPair('ES256', { extractable: true })
  const newKey = await generateKeyPair('ES256', { extractable: true })
  const stranger = await generateKeyPair('ES256', { extractable: true })
  const keys = await Promise.all(
    [oldKey, newKey].map(async (k, i) => ({ ...(await exportJWK(k.publicKey)), kid: `k${i}`, alg: 'ES256' })),
  )
  const server = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys }))
  })
  server.listen(0, '127.0.0.1')
  t.after(() => server.close())
  await new Promise((r) => server.once('listening', r))
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/jwks`
  const v = verifierFor({ JWT_ALGORITHMS: 'ES256', JWT_JWKS_URL: url })
  assert.equal((await v.verify(await sign({ alg: 'ES256', key: newKey.privateKey }))).userId, 'b-1042')
  assert.equal((await v.verify(await sign({ alg: 'ES256', key: oldKey.privateKey }))).userId, 'b-1042')
  const forged = await sign({ alg: 'ES256', key: stranger.privateKey })
  await rejects(v.verify(forged), 'token_invalid', forged)
})
