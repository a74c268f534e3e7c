import { SignJWT } from 'jose'

/** The HS256 secret tests and the local stack share (32 bytes, as HS256 requires). */
export const TEST_JWT_SECRET = 'tidings-local-development-secret-0123456789'

/** Signs a user token the way a real identity provider would (HS256, `sub` + `exp`). */
export async function signUserToken(
  userId: string,
  opts: {
    expiresInS?: number
    topics?: string[]
    secret?: string
    issuer?: string
    audience?: string
    /** `iat` this many seconds from now (default 0): a later login, after a revocation. */
    issuedInS?: number
  } = {},
): Promise<string> {
  const now = Math.floor(Date.now() / 1000)
  const iat = now + (opts.issuedInS ?? 0)
  const jwt = new SignJWT(opts.topics ? { topics: opts.topics } : {})
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(userId)
    .setIssuedAt(iat)
    .setExpirationTime(iat + (opts.expiresInS ?? 3600))
  if (opts.issuer) jwt.setIssuer(opts.issuer)
  if (opts.audience) jwt.setAudience(opts.audience)
  return jwt.sign(new TextEncoder().encode(opts.secret ?? TEST_JWT_SECRET))
}
