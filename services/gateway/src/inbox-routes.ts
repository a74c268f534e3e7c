import { Type } from '@sinclair/typebox'
import {
  HttpErrorBody,
  InboxAckRequest,
  InboxResponse,
  isUserId,
  PresenceResponse,
  USER_ID_PATTERN,
} from '@tidings/contracts'
import type { FastifyInstance } from 'fastify'
import { extractServiceToken, verifyServiceToken } from './auth/handshake.ts'
import { BAD_REQUEST, BAD_USER_ID, SERVICE_TOKEN_INVALID } from './errors.ts'
import { OPENAPI_TAGS } from './openapi.ts'
import type { PodContext } from './pod.ts'
import type { RequestAuthenticator } from './request-auth.ts'
import { parseResumeQuery } from './resume.ts'

/** `GET /v1/inbox?limit=`: at most this many notifications per page (documented in docs/protocol.md). */
export const INBOX_PAGE_MAX = 500
const INBOX_PAGE_DEFAULT = 100

function pageLimit(v: unknown): number {
  if (v === undefined) return INBOX_PAGE_DEFAULT
  const n = Number(v)
  if (typeof v !== 'string' || !Number.isSafeInteger(n) || n < 1 || n > INBOX_PAGE_MAX) {
    throw new BAD_REQUEST(`limit must be an integer from 1 to ${INBOX_PAGE_MAX}`)
  }
  return n
}

// The route schemas validate the requests and are what @fastify/swagger turns into the OpenAPI
// document (openapi.ts). The query values stay strings here: their rules (and error codes, e.g.
// TDG_ERR_BAD_RESUME) are the resume parser's, shared with /v1/ws and /v1/sse.
const errors = (...codes: number[]) => Object.fromEntries(codes.map((c) => [c, HttpErrorBody]))
const InboxQuery = Type.Object({
  afterSeq: Type.Optional(Type.String({ description: 'the highest seq the app has; integer ≥ 0' })),
  epoch: Type.Optional(Type.String({ description: 'the epoch afterSeq belongs to' })),
  limit: Type.Optional(
    Type.String({ description: `page size, 1–${INBOX_PAGE_MAX} (default ${INBOX_PAGE_DEFAULT})` }),
  ),
})
const inboxSchema = {
  tags: [OPENAPI_TAGS.inbox],
  summary: 'One page of the inbox after afterSeq (does not ack); nextAfterSeq when more follow',
  security: [{ userToken: [] }],
  querystring: InboxQuery,
  response: { 200: InboxResponse, ...errors(400, 401, 403, 429, 503) },
}
const ackSchema = {
  tags: [OPENAPI_TAGS.inbox],
  summary: 'Cumulative ack: everything up to seq of the epoch was handled',
  security: [{ userToken: [] }],
  body: InboxAckRequest,
  response: { 204: Type.Null({ description: 'acked' }), ...errors(400, 401, 403, 415, 429, 503) },
}
const presenceSchema = {
  tags: [OPENAPI_TAGS.services],
  summary: 'Is this user online: live WebSocket and SSE sessions on all pods',
  security: [{ serviceToken: [] }],
  params: Type.Object({ userId: Type.String({ description: `user id, ${USER_ID_PATTERN}` }) }),
  response: { 200: PresenceResponse, ...errors(400, 401) },
}

/**
 * For apps that cannot hold a connection: the buffered notifications as JSON, and acks over
 * HTTP (also what an SSE client uses to ack). Same inbox, same semantics as the WebSocket.
 */
export function registerInboxRoutes(
  app: FastifyInstance,
  pod: PodContext,
  authenticate: RequestAuthenticator,
): void {
  // One page after `afterSeq`; `nextAfterSeq` is there when more follow (pass it as the next
  // `afterSeq`, with the same epoch).
  app.get('/v1/inbox', { schema: inboxSchema }, async (req, reply) => {
    const { userId } = await authenticate(req, reply, { limit: 'http' })
    const query = req.query as Record<string, unknown>
    const limit = pageLimit(query.limit)
    const resume = parseResumeQuery(query, 'afterSeq')
    const read = await pod.store.readInbox(userId, resume)
    const page = read.frames.slice(0, limit)
    const notifications = page.map((f, i) => {
      const { type: _type, ...n } = JSON.parse(f) as Record<string, unknown>
      pod.tracing.delivered(read.metas[i], 'rest', read.firstSeq + i, 'rest')
      return n
    })
    const body: Record<string, unknown> = { epoch: read.epoch, notifications }
    if (read.missed) body.missed = read.missed
    if (read.frames.length > limit) body.nextAfterSeq = read.firstSeq + limit - 1
    return body
  })

  app.post<{ Body: InboxAckRequest }>(
    '/v1/inbox/ack',
    {
      schema: ackSchema,
      // authenticated before the body is parsed: no token → 401, never a validation error
      onRequest: async (req, reply) => {
        req.tidings = { principal: await authenticate(req, reply, { limit: 'http' }) }
      },
    },
    async (req, reply) => {
      const { userId } = req.tidings!.principal
      await pod.tracing.ack(pod.store, userId, req.body.epoch, req.body.seq, 'rest')
      pod.metrics.acks.inc()
      return reply.code(204).send()
    },
  )

  // For backend services (service credential, not a user token): is this borrower online?
  app.get<{ Params: { userId: string } }>('/v1/presence/:userId', { schema: presenceSchema }, async (req) => {
    if (!verifyServiceToken(extractServiceToken(req.headers), pod.config.auth.serviceTokenDigests)) {
      throw new SERVICE_TOKEN_INVALID()
    }
    if (!isUserId(req.params.userId)) throw new BAD_USER_ID()
    const sessions = await pod.presence.count(req.params.userId)
    return { online: sessions > 0, sessions }
  })
}
