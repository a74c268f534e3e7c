import { type Static, Type } from '@sinclair/typebox'
import { Epoch, isUserId } from '@tidings/contracts'
import type { FastifyInstance } from 'fastify'
import { extractServiceToken, verifyServiceToken } from './auth/handshake.ts'
import { BAD_REQUEST, BAD_USER_ID, SERVICE_TOKEN_INVALID } from './errors.ts'
import type { PodContext } from './pod.ts'
import type { RequestAuthenticator } from './request-auth.ts'
import { parseResumeQuery } from './resume.ts'

const AckBody = Type.Object(
  {
    seq: Type.Integer({ minimum: 0 }),
    epoch: Type.Optional(Epoch),
  },
  { additionalProperties: false },
)

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
  app.get('/v1/inbox', async (req, reply) => {
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

  app.post<{ Body: Static<typeof AckBody> }>(
    '/v1/inbox/ack',
    {
      schema: { body: AckBody },
      // authenticated before the body is parsed: no token → 401, never a validation error
      onRequest: async (req, reply) => {
        req.tidings = { principal: await authenticate(req, reply, { limit: 'http' }), resume: {} }
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
  app.get<{ Params: { userId: string } }>('/v1/presence/:userId', async (req) => {
    if (!verifyServiceToken(extractServiceToken(req.headers), pod.config.auth.serviceTokenDigests)) {
      throw new SERVICE_TOKEN_INVALID()
    }
    if (!isUserId(req.params.userId)) throw new BAD_USER_ID()
    const sessions = await pod.presence.count(req.params.userId)
    return { online: sessions > 0, sessions }
  })
}
