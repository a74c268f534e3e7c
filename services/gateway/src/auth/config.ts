import { createHash, createPublicKey, createSecretKey, type KeyObject } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { type Static, Type } from '@sinclair/typebox'
import { ConfigError, requireThat } from '@tidings/runtime'

export const JWT_ALGORITHMS = [
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'ES256',
  'ES384',
  'EdDSA',
  'HS256',
  'HS384',
  'HS512',
] as const
export type JwtAlgorithm = (typeof JWT_ALGORITHMS)[number]

/** The secret the README and the local stack use: refused unless DEV_MODE. */
export const DEV_JWT_SECRET = 'tidings-local-development-secret-0123456789'

/** The protocol caps the tolerance: a larger skew would let an expired token live too long. */
export const MAX_CLOCK_TOLERANCE_S = 30

/**
 * Environment variables of the gateway's authentication. The gateway spreads these properties
 * into its own env schema, so `loadConfig` does the types and defaults, and then calls
 * `authOptionsFromEnv` for the rules a schema cannot express.
 */
export const authEnvProperties = {
  /** Required on purpose: an implicit default is how `none` or key confusion sneaks in. */
  JWT_ALGORITHMS: Type.String({
    minLength: 1,
    description:
      'explicit allow-list, e.g. `RS256,ES256` or `HS256` (RS*, PS256, ES256/384, EdDSA, HS*; never none)',
  }),
  JWT_SECRET: Type.Optional(
    Type.String({ description: 'HS* secret (≥ 32/48/64 bytes); only with HS* algorithms' }),
  ),
  JWT_PUBLIC_KEY: Type.Optional(
    Type.String({ description: 'PEM public key for RS/PS/ES/EdDSA (`\\n` allowed)' }),
  ),
  JWT_PUBLIC_KEY_FILE: Type.Optional(Type.String({ description: 'path to that PEM instead' })),
  JWT_JWKS_URL: Type.Optional(Type.String({ description: 'JWKS endpoint (https; http only on localhost)' })),
  JWT_ISSUER: Type.Optional(
    Type.String({ minLength: 1, description: '`iss` must equal this; required unless DEV_MODE' }),
  ),
  JWT_AUDIENCE: Type.Optional(
    Type.String({
      minLength: 1,
      description: '`aud` must contain one of these (comma list); required unless DEV_MODE',
    }),
  ),
  JWT_MAX_LIFETIME_S: Type.Integer({
    minimum: 60,
    maximum: 30 * 86_400,
    default: 86_400,
    description: 'longest token lifetime accepted (`exp` − `iat`, or `exp` − now without `iat`)',
  }),
  DEV_MODE: Type.Boolean({
    default: false,
    description:
      'development only: accept the README’s demo secret and tokens without JWT_ISSUER/JWT_AUDIENCE',
  }),
  JWT_CLOCK_TOLERANCE_S: Type.Integer({
    minimum: 0,
    maximum: MAX_CLOCK_TOLERANCE_S,
    default: 5,
    description: 'clock skew allowed on exp/nbf',
  }),
  ALLOWED_ORIGINS: Type.Optional(
    Type.String({
      description:
        'exact browser origins allowed (comma list); requests without Origin (native apps) always pass',
    }),
  ),
  SERVICE_TOKENS: Type.Optional(
    Type.String({ description: 'credentials (≥ 24 chars, comma list) for `GET /v1/presence/:userId`' }),
  ),
}
const authEnvSchema = Type.Object(authEnvProperties)
export type AuthEnv = Static<typeof authEnvSchema>

export interface AuthOptions {
  algorithms: readonly JwtAlgorithm[]
  /** For HS* tokens; set exactly when an HS* algorithm is allowed. */
  secret?: KeyObject
  /** For asymmetric tokens: a fixed key from a PEM, or… */
  publicKey?: KeyObject
  /** …keys fetched (and cached) from a JWKS endpoint. Exactly one of the two when asymmetric algorithms are allowed. */
  jwksUrl?: URL
  issuer?: string
  audience?: readonly string[]
  clockToleranceS: number
  /** Longest `exp` − `iat` accepted, in seconds. */
  maxLifetimeS: number
  /** Exact browser origins (`https://app.example.com`). Requests without `Origin` are not browsers and pass. */
  allowedOrigins: ReadonlySet<string>
  /** SHA-256 of each service credential: compared in constant time and never kept in clear. */
  serviceTokenDigests: readonly Buffer[]
}

const list = (v: string | undefined): string[] =>
  (v ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')

const isHmac = (alg: JwtAlgorithm): boolean => alg.startsWith('HS')

// RFC 7518 §3.2: an HMAC key must be at least as long as the hash output.
const HMAC_MIN_BYTES: Record<string, number> = { HS256: 32, HS384: 48, HS512: 64 }

// Which public key types can verify which algorithm; a mismatch would only surface as
// every token failing, so it is refused at start instead.
function keyFits(key: KeyObject, alg: JwtAlgorithm): boolean {
  const type = key.asymmetricKeyType
  const curve = key.asymmetricKeyDetails?.namedCurve
  if (alg.startsWith('RS')) return type === 'rsa'
  if (alg.startsWith('PS')) return type === 'rsa' || type === 'rsa-pss'
  if (alg === 'ES256') return type === 'ec' && curve === 'prime256v1'
  if (alg === 'ES384') return type === 'ec' && curve === 'secp384r1'
  return alg === 'EdDSA' && type === 'ed25519'
}

function parseAlgorithms(raw: string | undefined): JwtAlgorithm[] {
  const v = 'JWT_ALGORITHMS'
  const names = [...new Set(list(raw))]
  requireThat(names.length > 0, v, 'must list the accepted algorithms, e.g. RS256 or HS256')
  for (const name of names) {
    requireThat(name.toLowerCase() !== 'none', v, 'must not contain none: unsigned tokens are never accepted')
    requireThat(
      (JWT_ALGORITHMS as readonly string[]).includes(name),
      v,
      `has an unsupported algorithm ${JSON.stringify(name)} (supported: ${JWT_ALGORITHMS.join(', ')})`,
    )
  }
  return names as JwtAlgorithm[]
}

function loadPem(env: AuthEnv): KeyObject {
  const fromFile = env.JWT_PUBLIC_KEY === undefined
  const v = fromFile ? 'JWT_PUBLIC_KEY_FILE' : 'JWT_PUBLIC_KEY'
  let pem: string
  if (fromFile) {
    try {
      pem = readFileSync(env.JWT_PUBLIC_KEY_FILE ?? '', 'utf8')
    } catch (err) {
      throw new ConfigError(`${v} cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'})`, v)
    }
  } else {
    // Env files and secret managers often flatten a PEM onto one line with literal "\n".
    pem = (env.JWT_PUBLIC_KEY ?? '').replace(/\\n/g, '\n')
  }
  // A private key would "work" (Node derives the public half) but must not sit in the gateway.
  requireThat(!/PRIVATE KEY-----/.test(pem), v, 'must be a public key, not a private key')
  try {
    return createPublicKey({ key: pem, format: 'pem' })
  } catch {
    throw new ConfigError(`${v} is not a PEM public key (SPKI "BEGIN PUBLIC KEY")`, v)
  }
}

function parseJwksUrl(raw: string): URL {
  const v = 'JWT_JWKS_URL'
  let url: URL
  try {
    url = new URL(raw)
  } catch {
    throw new ConfigError(`${v} is not a URL`, v)
  }
  // Keys fetched over plain HTTP could be swapped by anyone on the path; only a local
  // endpoint (tests, a sidecar) may skip TLS.
  const local = ['localhost', '127.0.0.1', '[::1]'].includes(url.hostname)
  requireThat(
    url.protocol === 'https:' || (url.protocol === 'http:' && local),
    v,
    'must be https (http only for localhost)',
  )
  return url
}

function parseOrigins(raw: string | undefined): Set<string> {
  const v = 'ALLOWED_ORIGINS'
  const origins = new Set<string>()
  for (const entry of list(raw)) {
    let url: URL | undefined
    try {
      url = new URL(entry)
    } catch {}
    // Browsers send the serialized origin (scheme://host[:port], lowercase, no default
    // port, no path), and the check is an exact string match, so the list must hold exactly that.
    // (WHATWG URL accepts `*` in a host, so wildcards need their own test.)
    const ok =
      !entry.includes('*') &&
      url !== undefined &&
      (url.protocol === 'https:' || url.protocol === 'http:') &&
      url.origin === entry
    requireThat(
      ok,
      v,
      `has ${JSON.stringify(entry)}, which is not an exact origin like https://app.example.com (no path, wildcard or trailing slash)`,
    )
    origins.add(entry)
  }
  return origins
}

function parseServiceTokens(raw: string | undefined): Buffer[] {
  const v = 'SERVICE_TOKENS'
  return list(raw).map((token, i) => {
    // The value goes in `Authorization: Bearer`, so it must be token68 text; the length keeps
    // it unguessable. The message gives the position, never the value.
    requireThat(
      /^[A-Za-z0-9._~+/=-]{24,}$/.test(token),
      v,
      `entry ${i + 1} must be at least 24 characters of [A-Za-z0-9._~+/=-]`,
    )
    return createHash('sha256').update(token).digest()
  })
}

/** Checks the rules across variables and returns the options; a ConfigError names the variable at fault. */
export function authOptionsFromEnv(env: AuthEnv): AuthOptions {
  const algorithms = parseAlgorithms(env.JWT_ALGORITHMS)
  const hmac = algorithms.filter(isHmac)
  const asymmetric = algorithms.filter((a) => !isHmac(a))
  const options: AuthOptions = {
    algorithms,
    clockToleranceS: env.JWT_CLOCK_TOLERANCE_S ?? 5,
    maxLifetimeS: env.JWT_MAX_LIFETIME_S ?? 86_400,
    allowedOrigins: parseOrigins(env.ALLOWED_ORIGINS),
    serviceTokenDigests: parseServiceTokens(env.SERVICE_TOKENS),
  }
  const tol = options.clockToleranceS
  requireThat(
    Number.isInteger(tol) && tol >= 0 && tol <= MAX_CLOCK_TOLERANCE_S,
    'JWT_CLOCK_TOLERANCE_S',
    `must be an integer from 0 to ${MAX_CLOCK_TOLERANCE_S}`,
  )

  // Each key source must be used by an allowed algorithm, and each algorithm must have its
  // source: a stray source means the operator believes in a setup that is not the real one.
  if (hmac.length > 0) {
    requireThat(env.JWT_SECRET !== undefined, 'JWT_SECRET', `is required for ${hmac.join(', ')}`)
    const min = Math.max(...hmac.map((a) => HMAC_MIN_BYTES[a] ?? 32))
    requireThat(
      Buffer.byteLength(env.JWT_SECRET) >= min,
      'JWT_SECRET',
      `must be at least ${min} bytes for ${hmac.join(', ')}`,
    )
    // The README's secret is public: a pod that accepts it accepts tokens anyone can sign.
    requireThat(
      env.JWT_SECRET.trim() !== DEV_JWT_SECRET || env.DEV_MODE === true,
      'JWT_SECRET',
      'is the public development secret from the README; set DEV_MODE=true only on a development machine',
    )
    options.secret = createSecretKey(Buffer.from(env.JWT_SECRET, 'utf8'))
  } else {
    requireThat(env.JWT_SECRET === undefined, 'JWT_SECRET', 'is set but JWT_ALGORITHMS has no HS* algorithm')
  }

  const sources = (['JWT_PUBLIC_KEY', 'JWT_PUBLIC_KEY_FILE', 'JWT_JWKS_URL'] as const).filter(
    (k) => env[k] !== undefined,
  )
  if (asymmetric.length > 0) {
    requireThat(
      sources.length > 0,
      'JWT_PUBLIC_KEY',
      `(or JWT_PUBLIC_KEY_FILE or JWT_JWKS_URL) is required for ${asymmetric.join(', ')}`,
    )
    requireThat(
      sources.length === 1,
      sources[1]!,
      `cannot be combined with ${sources[0]}: set exactly one key source`,
    )
    if (env.JWT_JWKS_URL !== undefined) {
      options.jwksUrl = parseJwksUrl(env.JWT_JWKS_URL)
    } else {
      const key = loadPem(env)
      const misfit = asymmetric.find((a) => !keyFits(key, a))
      requireThat(
        misfit === undefined,
        sources[0]!,
        `holds a ${key.asymmetricKeyType} key that cannot verify ${misfit}`,
      )
      options.publicKey = key
    }
  } else {
    requireThat(sources.length === 0, sources[0]!, 'is set but JWT_ALGORITHMS has only HS* algorithms')
  }

  // Without both, any token of the same identity provider for another service is accepted.
  const dev = env.DEV_MODE === true
  requireThat(env.JWT_ISSUER !== undefined || dev, 'JWT_ISSUER', 'is required (DEV_MODE=true skips it)')
  const audience = list(env.JWT_AUDIENCE)
  requireThat(audience.length > 0 || dev, 'JWT_AUDIENCE', 'is required (DEV_MODE=true skips it)')
  if (env.JWT_ISSUER !== undefined) options.issuer = env.JWT_ISSUER
  if (audience.length > 0) options.audience = audience
  return options
}
