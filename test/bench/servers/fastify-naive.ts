// Baseline "naive Fastify": Fastify + @fastify/websocket with the plugin's defaults, written the way the
// plugin's README shows it: the JWT checked in a preValidation hook (a refusal is a 401 response), a
// `{ websocket: true }` route whose handler closes over `req` (req.user, req.log), the same per-user
// SSUBSCRIBE and `welcome` frame as the raw ws baseline. The same fastify and @fastify/websocket
// versions as the gateway had (the catalog's; the gateway itself answers upgrades before Fastify now).
//   PORT, HOST, REDIS_URL, JWT_SECRET
import { createRequire } from 'node:module'
import type { WebSocket } from 'ws'
import { createUserRouter, env, onStop, userOf, welcome } from './common.ts'

// Just the surface used here (the packages' own types describe far more).
interface Req {
  headers: Record<string, string | undefined>
  user?: string
  log: { debug(msg: string): void }
}
interface Reply {
  code(status: number): Reply
  send(body?: unknown): Reply
}
interface App {
  register(plugin: unknown, opts?: Record<string, unknown>): PromiseLike<unknown>
  decorateRequest(name: string, value: unknown): void
  get(
    path: string,
    opts: Record<string, unknown>,
    handler: (a: WebSocket | Req, b: Req | Reply) => unknown,
  ): void
  listen(opts: { port: number; host: string }): Promise<string>
  close(): Promise<void>
}

const require = createRequire(import.meta.url)
const Fastify = require('fastify') as (opts?: Record<string, unknown>) => App
const websocket = require('@fastify/websocket') as unknown

const router = createUserRouter(env('REDIS_URL'))
let sockets = 0
const app = Fastify()
app.decorateRequest('user', null)
await app.register(websocket)
app.get('/healthz', {}, () => ({ status: 'ok' }))
app.get('/stats', {}, () => ({ sockets, channels: router.channels }))
await app.register(async (f: App) => {
  f.get(
    '/v1/ws',
    {
      websocket: true,
      preValidation: async (req: Req, reply: Reply) => {
        const user = await userOf(req.headers.authorization)
        if (!user) return reply.code(401).send({ error: 'unauthorized' })
        req.user = user
      },
    },
    (a, b) => {
      const socket = a as WebSocket
      const req = b as Req
      sockets++
      socket.on('message', () => req.log.debug('message'))
      socket.on('close', () => {
        sockets--
        router.leave(req.user!, socket)
      })
      router.join(req.user!, socket).then(
        () => socket.send(welcome(req.user!)),
        () => socket.close(1013),
      )
    },
  )
})

await app.listen({ port: Number(env('PORT')), host: process.env.HOST ?? '127.0.0.1' })
onStop(async () => {
  await app.close()
  await router.close()
})
