/** What went wrong, for `client.on('error', …)`. */
export type TidingsErrorKind =
  /** The server closed with 1003/1007/1008/1009: the SDK (or a proxy) sent something the gateway refuses. */
  | 'client_bug'
  /** A recoverable `error` frame from the server (`serverCode` says which). */
  | 'server'
  /** `getToken()` threw or returned something that is not a non-empty string. */
  | 'token'
  /** The storage adapter threw while loading or saving the resume position. */
  | 'storage'
  /** An `onNotification` / event listener threw (the notification still counts as handled). */
  | 'handler'
  /** The server revoked the user's sessions (close 4003): the client stopped; sign in again, then connect(). */
  | 'revoked'
  /** The transport misbehaved: unparsable frame, failed ack POST, refused HTTP status. */
  | 'transport'

export class TidingsError extends Error {
  override readonly name = 'TidingsError'
  readonly kind: TidingsErrorKind
  /** WebSocket close code (or the close code an SSE HTTP status maps to), when there was one. */
  readonly closeCode: number | undefined
  /** `code` of a server `error` frame. */
  readonly serverCode: string | undefined

  constructor(
    kind: TidingsErrorKind,
    message: string,
    extra: { closeCode?: number; serverCode?: string; cause?: unknown } = {},
  ) {
    super(message, extra.cause === undefined ? undefined : { cause: extra.cause })
    this.kind = kind
    this.closeCode = extra.closeCode
    this.serverCode = extra.serverCode
  }
}
