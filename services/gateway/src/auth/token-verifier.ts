import type { KeyObject, webcrypto } from 'node:crypto'
import { isTopicName, isUserId } from '@tidings/contracts'
import {
  createRemoteJWKSet,
  errors,
  type FlattenedJWSInput,
  type JWTHeaderParameters,
  type JWTVerifyOptions,
  jwtVerify,
} from 'jose'
import type { AuthOptions } from './config.ts'

export interface Principal {
  userId: string
  /** `exp` in ms since the epoch. */
  expiresAt: number
  /** `iat` in ms since the epoch (required: lifetime and revocations are measured from it). */
  issuedAt: number
  /** Broadcast topics the token allows (the `topics` claim), deduplicated; empty when absent. */
  topics: readonly string[]
}

/**
 * `token_missing`, `token_invalid` and `token_expired` are the client's fault (HTTP 401, close
 * 4001). `auth_unavailable` means the JWKS endpoint could not be reached or answered nonsense:
 * the token may be fine, so it maps to 503 and the app retries instead of logging the user out.
 */
export type AuthErrorCode = 'token_missing' | 'token_invalid' | 'token_expired' | 'auth_unavailable'

/** Messages are fixed texts (at most a claim name): never the token or a claim value. */
export class AuthError extends Error {
  override name = 'AuthError'
  readonly code: AuthErrorCode
  constructor(code: AuthErrorCode, message: string, options?: ErrorOptions) {
    super(message, options)
    this.code = code
  }
}

/** HTTP status for a failed check before the upgrade or on an HTTP route. */
export const authErrorStatus = (err: AuthError): 401 | 503 => (err.code === 'auth_unavailable' ? 503 : 401)

export interface TokenVerifier {
  /** Resolves with the principal or rejects with an AuthError (never anything else). */
  verify(token: string): Promise<Principal>
}

/** Same cap as the `auth` frame: a longer "token" is refused before any parsing or crypto. */
export const MAX_TOKEN_LENGTH = 8192

// A JWKS refetch is at most every 30 s (an unknown `kid` cannot make us hammer the issuer),
// keys are kept 10 min, and a slow endpoint fails a handshake after 5 s rather than hanging it.
const JWKS_OPTIONS = { cooldownDuration: 30_000, cacheMaxAge: 600_000, timeoutDuration: 5_000 }

// Marks a failure to obtain keys, as opposed to a token that does not match them.
class KeysUnavailable extends Error {}
// Several JWKS keys fit a token without `kid`; jose's error iterates over them.
class SeveralKeys extends Error {
  readonly candidates: errors.JWKSMultipleMatchingKeys
  constructor(candidates: errors.JWKSMultipleMatchingKeys) {
    super('several keys match')
    this.candidates = candidates
  }
}

/** Later than this, `exp` is no date (year 275760 is JavaScript's last): the token is refused. */
const MAX_DATE_MS = 8.64e15

export function createTokenVerifier(options: AuthOptions): TokenVerifier {
  const jwks = options.jwksUrl ? createRemoteJWKSet(options.jwksUrl, JWKS_OPTIONS) : undefined
  const verifyOptions: JWTVerifyOptions = {
    algorithms: [...options.algorithms],
    // `iat` is what the lifetime rule and revocation are measured from: required, and with
    // maxTokenAge jose refuses an `iat` in the future (a token minted "next year" — or in ms by
    // mistake — would otherwise outlive every revocation).
    requiredClaims: ['sub', 'exp', 'iat'],
    maxTokenAge: options.maxLifetimeS,
    clockTolerance: options.clockToleranceS,
  }
  if (options.issuer !== undefined) verifyOptions.issuer = options.issuer
  if (options.audience !== undefined) verifyOptions.audience = [...options.audience]

  // jose turns a KeyObject or bytes into a WebCrypto key on every call (an importKey per
  // handshake, ~5 % of a connect's CPU): the secret is imported once per HS* algorithm instead.
  const hmacKeys = new Map<string, webcrypto.CryptoKey>()
  const hmacKey = (alg: string, secret: KeyObject): webcrypto.CryptoKey => {
    let key = hmacKeys.get(alg)
    if (!key) {
      key = secret.toCryptoKey({ name: 'HMAC', hash: `SHA-${alg.slice(2)}` }, false, ['verify'])
      hmacKeys.set(alg, key)
    }
    return key
  }

  // jose checks the header's `alg` against the allow-list before calling this, so the key
  // family follows an algorithm we accept: an HS* token never meets the public key as a secret.
  const getKey = async (header: JWTHeaderParameters, token: FlattenedJWSInput) => {
    if (header.alg.startsWith('HS')) {
      if (options.secret) return hmacKey(header.alg, options.secret)
    } else if (options.publicKey) {
      return options.publicKey
    } else if (jwks) {
      try {
        return await jwks(header, token)
      } catch (err) {
        // A token without `kid` that several keys fit (a key rotation): the caller tries each.
        if (err instanceof errors.JWKSMultipleMatchingKeys) throw new SeveralKeys(err)
        // No key for this kid/alg is the token's problem; anything else (network, timeout,
        // non-200, malformed set) is ours.
        if (err instanceof errors.JWKSNoMatchingKey) throw err
        throw new KeysUnavailable('JWKS unavailable', { cause: err })
      }
    }
    throw new errors.JOSEAlgNotAllowed('no key for this algorithm')
  }

  return {
    async verify(token) {
      if (typeof token !== 'string' || token === '') throw new AuthError('token_missing', 'token missing')
      if (token.length > MAX_TOKEN_LENGTH) throw new AuthError('token_invalid', 'token too long')
      let payload: Record<string, unknown>
      try {
        ;({ payload } = await jwtVerify(token, getKey, verifyOptions))
      } catch (err) {
        if (!(err instanceof SeveralKeys)) throw toAuthError(err)
        payload = await verifyWithEach(token, err.candidates, verifyOptions)
      }
      return principalFrom(payload, options.maxLifetimeS)
    },
  }
}

// jose's documented way: each key that fits is tried; only a signature mismatch moves on.
async function verifyWithEach(
  token: string,
  candidates: errors.JWKSMultipleMatchingKeys,
  verifyOptions: JWTVerifyOptions,
): Promise<Record<string, unknown>> {
  for await (const key of candidates) {
    try {
      return (await jwtVerify(token, key, verifyOptions)).payload
    } catch (err) {
      if (err instanceof errors.JWSSignatureVerificationFailed) continue
      throw toAuthError(err)
    }
  }
  throw new AuthError('token_invalid', 'token signature invalid')
}

// Most tokens allow no topic: one shared empty list rather than an array per session (32 B each).
const NO_TOPICS: readonly string[] = Object.freeze([])

function principalFrom(payload: Record<string, unknown>, maxLifetimeS: number): Principal {
  const { sub, exp, iat, topics } = payload
  // The user id becomes part of Redis keys, so it is held to the same pattern as everywhere else.
  if (!isUserId(sub)) throw new AuthError('token_invalid', 'token "sub" is not a valid user id')
  if (typeof exp !== 'number') throw new AuthError('token_invalid', 'token "exp" is not a number')
  if (!(exp * 1000 < MAX_DATE_MS)) throw new AuthError('token_invalid', 'token "exp" is not a date')
  if (typeof iat !== 'number') throw new AuthError('token_invalid', 'token "iat" is not a number')
  // A token that lives longer than policy allows cannot be refused in time when it leaks.
  if (exp - iat > maxLifetimeS) throw new AuthError('token_invalid', 'token lifetime too long')
  // A malformed `topics` claim refuses the whole token rather than dropping entries: it is an
  // authorization claim from the issuer, and a silently narrowed grant would hide an issuer bug.
  if (topics !== undefined && !(Array.isArray(topics) && topics.every(isTopicName))) {
    throw new AuthError('token_invalid', 'token "topics" must be an array of topic names')
  }
  return {
    userId: sub,
    expiresAt: exp * 1000,
    issuedAt: iat * 1000,
    topics: topics === undefined || topics.length === 0 ? NO_TOPICS : [...new Set<string>(topics)],
  }
}

function toAuthError(err: unknown): AuthError {
  if (err instanceof KeysUnavailable)
    return new AuthError('auth_unavailable', 'signing keys unavailable', { cause: err.cause })
  if (err instanceof errors.JWTExpired) return new AuthError('token_expired', 'token expired')
  if (err instanceof errors.JWTClaimValidationFailed) {
    return new AuthError('token_invalid', `token "${err.claim}" claim check failed`)
  }
  if (err instanceof errors.JWSSignatureVerificationFailed)
    return new AuthError('token_invalid', 'token signature invalid')
  if (err instanceof errors.JOSEAlgNotAllowed)
    return new AuthError('token_invalid', 'token algorithm not allowed')
  if (err instanceof errors.JWKSNoMatchingKey) {
    return new AuthError('token_invalid', 'no signing key matches the token')
  }
  // Malformed tokens (JWSInvalid, JWTInvalid, JOSENotSupported, a key of the wrong type…).
  // jose's own messages stay out: some quote header values.
  return new AuthError('token_invalid', 'token malformed', { cause: err })
}
