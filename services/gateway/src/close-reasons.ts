import { CloseCode } from '@tidings/contracts'
import {
  DRAINING,
  RATE_LIMITED,
  TOKEN_EXPIRED,
  TOKEN_REVOKED,
  TOO_MANY_SESSIONS,
  TRY_AGAIN_LATER,
} from './errors.ts'

/**
 * Why the gateway ends a session: the close code and reason text of docs/protocol.md §9.3, and
 * the HTTP refusal an SSE stream answers with instead when its headers are not sent yet.
 */
/** An HTTP error of errors.ts: `{statusCode, code, message}` on the wire. */
export type HttpRefusal = Error & { statusCode: number; code: string }

export interface SessionClose {
  readonly code: CloseCode
  readonly reason: string
  refusal(): HttpRefusal
}

// The refusal follows the code, never the reason: one HTTP answer per close code.
function refusalOf(code: CloseCode, reason: string): () => HttpRefusal {
  switch (code) {
    case CloseCode.TooManySessions:
      return () => new TOO_MANY_SESSIONS()
    case CloseCode.RateLimited:
      return () => new RATE_LIMITED()
    case CloseCode.Unauthorized:
      return () => new TOKEN_EXPIRED()
    case CloseCode.Revoked:
      return () => new TOKEN_REVOKED()
    // the pod started draining after the request was authenticated
    case CloseCode.ServiceRestart:
      return () => new DRAINING()
    default:
      return () => new TRY_AGAIN_LATER(reason)
  }
}

const close = (code: CloseCode, reason: string): SessionClose => ({
  code,
  reason,
  refusal: refusalOf(code, reason),
})

/** Every way the gateway closes a session; docs.test.ts checks that each is in docs/protocol.md. */
export const Closes = {
  BinaryFrame: close(CloseCode.UnsupportedData, 'binary frames are not accepted'),
  NotJson: close(CloseCode.InvalidPayload, 'frames must be JSON text'),
  Violations: close(CloseCode.PolicyViolation, 'too many protocol violations'),
  ServerRestart: close(CloseCode.ServiceRestart, 'server restart'),
  PodFull: close(CloseCode.TryAgainLater, 'pod full'),
  SlowReader: close(CloseCode.TryAgainLater, 'reading too slowly'),
  TryAgainLater: close(CloseCode.TryAgainLater, 'try again later'),
  TokenUncheckable: close(CloseCode.TryAgainLater, 'token could not be checked now'),
  InvalidToken: close(CloseCode.Unauthorized, 'invalid token'),
  TokenExpired: close(CloseCode.Unauthorized, 'token expired'),
  OtherUser: close(CloseCode.Unauthorized, 'token is for another user'),
  Revoked: close(CloseCode.Revoked, 'sessions revoked'),
  RateLimited: close(CloseCode.RateLimited, 'rate limited'),
  FramesQueued: close(CloseCode.RateLimited, 'too many frames queued'),
  TooManySessions: close(CloseCode.TooManySessions, 'too many sessions for this user'),
} as const satisfies Record<string, SessionClose>

/**
 * A WebSocket whose session could not be opened (a failure of ours: ws-upgrade.ts).
 * Not a CloseCode of the contracts: clients treat it as any unexpected close.
 */
export const HANDLER_FAILED = { code: 1011, reason: 'internal error' } as const
