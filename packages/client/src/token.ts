// The app's token as the connection loop uses it: why it is asked for (`reason`), the one the live
// connection presented (HTTP acks carry it), and one handed over by a refresh for the next attempt.
import { TidingsError } from './errors.ts'

/** Why the SDK asks for a token. */
export type TokenReason =
  /** a (re)connect: a cached token that is still valid is fine */
  | 'connect'
  /** the server sent `reauth`: the token expires within 60 s, return a fresh one */
  | 'reauth'
  /** the server refused the last token (close 4001 / HTTP 401): return a fresh one */
  | 'rejected'

export type GetToken = (request: { reason: TokenReason }) => string | Promise<string>

export interface TokenSource {
  /** The token the current connection presented. */
  current: string | undefined
  /** The reason the next connection attempt asks with. */
  readonly reason: TokenReason
  /** Calls the app's `getToken`; rejects with a `TidingsError` (kind `token`) when it fails or returns none. */
  fetch(reason: TokenReason): Promise<string>
  /** A fresh token for the next attempt (SSE cannot send `auth`: it reconnects with it instead). */
  handOver(token: string): void
  /** The handed-over token, once; undefined when the attempt has to ask `getToken`. */
  takeHandedOver(): string | undefined
  /** The server refused the token (4001 / 401): the next attempt asks for a fresh one. */
  rejected(): void
  /** A session opened with it: a cached token is fine again. */
  accepted(): void
  /** The user's sessions were revoked: forget every token; the next `connect()` asks for a fresh one. */
  revoke(): void
}

export function createTokenSource(getToken: GetToken): TokenSource {
  let handedOver: string | undefined
  let reason: TokenReason = 'connect'
  return {
    current: undefined,
    get reason() {
      return reason
    },
    async fetch(why) {
      let t: unknown
      try {
        t = await getToken({ reason: why })
      } catch (cause) {
        throw new TidingsError('token', 'getToken() failed', { cause })
      }
      if (typeof t !== 'string' || t === '') throw new TidingsError('token', 'getToken() returned no token')
      return t
    },
    handOver(token) {
      handedOver = token
    },
    takeHandedOver() {
      const t = handedOver
      handedOver = undefined
      return t
    },
    rejected() {
      reason = 'rejected'
    },
    accepted() {
      reason = 'connect'
    },
    revoke() {
      this.current = undefined
      handedOver = undefined
      reason = 'rejected'
    },
  }
}
