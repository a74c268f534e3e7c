import { createHash, timingSafeEqual } from 'node:crypto'
import { BEARER_SUBPROTOCOL_PREFIX, SUBPROTOCOL } from '@tidings/contracts'

/** Node's IncomingHttpHeaders (and Fastify's request.headers) fit this: lowercase names. */
export type RequestHeaders = Readonly<Record<string, string | string[] | undefined>>

export interface ExtractedToken {
  token: string
  via: 'header' | 'subprotocol'
}

// RFC 6750 b64token; a JWT is three base64url parts joined by dots, which fits.
const BEARER_RE = /^Bearer[ \t]+([A-Za-z0-9._~+/-]+=*)[ \t]*$/i

const first = (v: string | string[] | undefined): string | undefined => (Array.isArray(v) ? v[0] : v)

/** The token of an `Authorization: Bearer …` header (scheme case-insensitive), or null. */
export function extractBearer(headers: RequestHeaders): string | null {
  const value = first(headers.authorization)
  return value === undefined ? null : (BEARER_RE.exec(value)?.[1] ?? null)
}

/** Subprotocols offered by the client, in order (the header may repeat; Node joins repeats with ", "). */
export function offeredSubprotocols(headers: RequestHeaders): string[] {
  const raw = headers['sec-websocket-protocol']
  const joined = Array.isArray(raw) ? raw.join(',') : (raw ?? '')
  return joined
    .split(',')
    .map((p) => p.trim())
    .filter((p) => p !== '')
}

/**
 * The JWT of a WebSocket upgrade. The header wins when present (native apps, servers);
 * browsers cannot set headers on a WebSocket, so they offer `tidings.v1` and `bearer.<jwt>`.
 * The bearer entry only counts next to `tidings.v1` (it is our convention, not a generic
 * one) and only when there is exactly one of it: two would leave us to pick a user.
 */
export function extractToken(headers: RequestHeaders): ExtractedToken | null {
  const bearer = extractBearer(headers)
  if (bearer !== null) return { token: bearer, via: 'header' }
  const offered = offeredSubprotocols(headers)
  if (!offered.includes(SUBPROTOCOL)) return null
  const bearers = offered.filter((p) => p.startsWith(BEARER_SUBPROTOCOL_PREFIX))
  if (bearers.length !== 1) return null
  const token = bearers[0]!.slice(BEARER_SUBPROTOCOL_PREFIX.length)
  return token === '' ? null : { token, via: 'subprotocol' }
}

/**
 * No Origin: not a browser (native app, server), and a cross-site page cannot make a
 * browser drop it, so it passes. Otherwise an exact match against the configured origins
 * (a browser sends the serialized origin, so no normalising; `null` never matches).
 */
export function isOriginAllowed(origin: string | undefined, allowList: ReadonlySet<string>): boolean {
  return origin === undefined || allowList.has(origin)
}

/**
 * For ws's `handleProtocols` (@fastify/websocket `options.handleProtocols`): select
 * `tidings.v1` and nothing else. Echoing `bearer.<jwt>` would put the token in the response
 * and in every proxy log of it.
 */
export function selectSubprotocol(protocols: Set<string>): typeof SUBPROTOCOL | false {
  return protocols.has(SUBPROTOCOL) ? SUBPROTOCOL : false
}

/** The service credential of `GET /v1/presence/:userId`: `Authorization: Bearer <token>`. */
export const extractServiceToken = extractBearer

/**
 * Constant time in the presented value: both sides are SHA-256 digests (equal length, so
 * timingSafeEqual applies and the length of a token leaks nothing), and every configured
 * digest is compared without an early exit. No tokens configured → always false.
 */
export function verifyServiceToken(presented: string | null, digests: readonly Buffer[]): boolean {
  if (presented === null || presented === '') return false
  const candidate = createHash('sha256').update(presented).digest()
  let match = false
  for (const digest of digests) match = timingSafeEqual(candidate, digest) || match
  return match
}
