import createError from '@fastify/error'

// Every HTTP refusal of the gateway, in one table. A refused upgrade is an HTTP response with
// one of these, never an opened socket.
export const ORIGIN_FORBIDDEN = createError('TDG_ERR_ORIGIN_FORBIDDEN', 'Origin %s is not allowed', 403)
export const TOKEN_MISSING = createError(
  'TDG_ERR_TOKEN_MISSING',
  'A bearer token is required (Authorization header, or the tidings.v1 + bearer.<jwt> subprotocols)',
  401,
)
export const TOKEN_INVALID = createError('TDG_ERR_TOKEN_INVALID', 'The token is invalid: %s', 401)
export const TOKEN_EXPIRED = createError('TDG_ERR_TOKEN_EXPIRED', 'The token has expired', 401)
export const NOT_WEBSOCKET = createError(
  'TDG_ERR_NOT_WEBSOCKET',
  'This endpoint only accepts WebSocket upgrades',
  426,
)
export const DRAINING = createError('TDG_ERR_DRAINING', 'This gateway is shutting down; connect again', 503)
export const BAD_RESUME = createError(
  'TDG_ERR_BAD_RESUME',
  'lastSeq must be a non-negative integer and epoch a short token',
  400,
)
export const SERVICE_TOKEN_INVALID = createError(
  'TDG_ERR_SERVICE_TOKEN_INVALID',
  'A service credential is required (Authorization: Bearer <one of SERVICE_TOKENS>)',
  401,
)
export const BAD_USER_ID = createError('TDG_ERR_BAD_USER_ID', 'Not a valid user id', 400)
export const AUTH_UNAVAILABLE = createError(
  'TDG_ERR_AUTH_UNAVAILABLE',
  'The token could not be checked now (key server unreachable); try again',
  503,
)
export const BAD_REQUEST = createError('TDG_ERR_BAD_REQUEST', 'Bad request: %s', 400)
export const NOT_FOUND = createError('TDG_ERR_NOT_FOUND', 'No such endpoint', 404)

// A session refused after authentication. On a WebSocket these are close codes; an SSE stream
// whose headers are not sent yet answers with the matching HTTP error instead.
export const TOO_MANY_SESSIONS = createError(
  'TDG_ERR_TOO_MANY_SESSIONS',
  'Too many sessions for this user',
  429,
)
export const RATE_LIMITED = createError('TDG_ERR_RATE_LIMITED', 'Rate limited', 429)
export const TRY_AGAIN_LATER = createError('TDG_ERR_TRY_AGAIN_LATER', 'Try again later: %s', 503)
export const UPGRADE_REFUSED = createError(
  'TDG_ERR_UPGRADE_REFUSED',
  'WebSocket upgrades are only accepted on %s',
  400,
)
export const TOKEN_REVOKED = createError(
  'TDG_ERR_TOKEN_REVOKED',
  'The sessions of this user were revoked; sign in again',
  401,
)

// What the error handler (app.ts) answers for errors that are not ours. A failure inside the
// gateway: its details go to the log, never to the client.
export const INTERNAL = createError('TDG_ERR_INTERNAL', 'internal error', 500)
/** Any other HTTP error Fastify raises (a body too large, a method not allowed…): the status in the code. */
export const httpErrorCode = (status: number): string => `TDG_ERR_HTTP_${status}`
