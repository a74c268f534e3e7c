import { type Static, Type } from '@sinclair/typebox'
import { Epoch, isUserId } from '@tidings/contracts'
import type { FastifyInstance } from 'fastify'
import { extractServiceToken, verifyServiceToken } from './auth/handshake.ts'
import { BAD_USER_ID, SERVICE_TOKEN_INVALID } from './errors.ts'
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

/**
 * For apps that cannot hold a connection: the buffered notifications as JSON, and acks over
 * HTTP (also what an SSE client uses to ack). Same inbox, same semantics as the WebSocket.
 */
export function registerInboxRoutes(
  app: FastifyInstance,
  pod: PodContext,
  authenticate: RequestAuthenticator,
): void {
  app.get('/v1/inbox', async (req) => {
    const { userId } = await authenticate(req)
    const read = await pod.store.readInbox(
      userId,
      parseResumeQuery(req.query as Record<string, unknown>, 'afterSeq'),
    )
    const notifications = read.frames.map((f, i) => {
      const { type: _type, ...n } = JSON.parse(f) as Record<string, unknown>
      pod.tracing.delivered(read.metas[i], 'rest', read.firstSeq + i, 'rest')
      return n
    })
    return read.missed
      ? { epoch: read.epoch, notifications, missed: read.missed }
      : { epoch: read.epoch, notifications }
  })

  app.post<{ Body: Static<typeof AckBody> }>(
    '/v1/inbox/ack',
    {
      schema: { body: AckBody },
      // authenticated before the body is parsed: no token → 401, never a validation error
      onRequest: async (req) => {
        req.tidings = { principal: await authenticate(req), resume: {} }
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
