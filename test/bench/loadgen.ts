// Load generator: a child process (IPC) that opens many authenticated WebSockets to one server and
// holds them. Sockets are spread over several 127.x.y.z source addresses (each has ~28k ephemeral ports).
// A socket counts as open once its first frame (the server's `welcome`) has arrived: the server has then
// finished admitting it. With `track`, notification frames carrying `data.t` (a process.hrtime.bigint()
// of the publisher, same machine → same monotonic clock) are turned into latencies.
//
//   parent → child: { op: 'open', ...OpenRequest } | { op: 'stats', latencies?: boolean } | { op: 'close' }
//   child → parent: { op: 'ready' } | { op: 'opened', ...OpenResult } | { op: 'stats', ...Stats } | { op: 'closed' }
import { setTimeout as delay } from 'node:timers/promises'
import { WebSocket } from 'ws'
import { openCentrifugo, openSocketIo, type PeerConnection } from './lib/peer-clients.ts'
import {
  type LoadgenRequest,
  type OpenRequest,
  type OpenResult,
  type Stats,
  sentAtNs,
  signToken,
} from './lib/protocol.ts'
import { openSdkClient } from './lib/sdk-clients.ts'

const sockets = new Set<WebSocket>()
const peers = new Set<PeerConnection>()
let closing = false
let unexpectedCloses = 0
let notifications = 0
let outOfOrder = 0
const frames: Record<string, number> = {}
let latencies: number[] = []
let sentMs: number[] = []

/** A notification produced by the end-to-end bench (loanId `t<hrtime>`) or published with `data.t`. */
function record(t: bigint | undefined): void {
  if (t === undefined) return
  latencies.push(Number(process.hrtime.bigint() - t) / 1e6)
  sentMs.push(Number(t) / 1e6)
}

let sdkOpen = 0
const sdkSeen = new Set<string>()

function openPeer(req: OpenRequest, user: string, localAddress: string): Promise<PeerConnection> {
  if (req.protocol === 'sdk') {
    return openSdkClient({
      urls: [req.url, ...(req.fallbackUrls ?? [])],
      token: signToken(user, req.secret),
      localAddress,
      onNotification(id) {
        notifications++
        sdkSeen.add(id)
      },
      onOpen(open) {
        sdkOpen += open ? 1 : -1
      },
    })
  }
  const open = req.protocol === 'socketio' ? openSocketIo : openCentrifugo
  return open({
    url: req.url,
    token: signToken(user, req.secret),
    localAddress,
    onNotification(payload) {
      notifications++
      frames.notification = (frames.notification ?? 0) + 1
      record(sentAtNs(payload.loanId))
    },
    onUnexpectedClose() {
      if (!closing) unexpectedCloses++
    },
  })
}

function openOne(req: OpenRequest, user: string, localAddress: string): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(req.url, {
      headers: { authorization: `Bearer ${signToken(user, req.secret)}` },
      localAddress,
      perMessageDeflate: false,
      handshakeTimeout: 30_000,
    })
    let ready = false
    let lastSeq = -1
    ws.on('message', (data) => {
      if (!ready) {
        ready = true
        resolve(ws)
      }
      if (!req.track) {
        frames.any = (frames.any ?? 0) + 1
        return
      }
      const f = JSON.parse(String(data)) as {
        type: string
        seq?: number
        data?: { t?: string; loanId?: string }
      }
      frames[f.type] = (frames[f.type] ?? 0) + 1
      if (f.type !== 'notification') return
      notifications++
      if (lastSeq >= 0 && f.seq !== lastSeq + 1) outOfOrder++
      lastSeq = f.seq ?? -1
      const t = f.data?.t
      record(typeof t === 'string' ? BigInt(t) : sentAtNs(f.data?.loanId))
    })
    ws.on('unexpected-response', (_r, res) => {
      ws.terminate()
      reject(new Error(`HTTP ${res.statusCode}`))
    })
    ws.on('error', (err) => {
      if (!ready) reject(err)
    })
    ws.on('close', (code) => {
      sockets.delete(ws)
      if (!ready) reject(new Error(`closed ${code} before the first frame`))
      else if (!closing) unexpectedCloses++
    })
  })
}

async function open(req: OpenRequest): Promise<OpenResult> {
  const t0 = performance.now()
  const errors: string[] = []
  let opened = 0
  let failed = 0
  let retries = 0
  let next = 0
  const worker = async () => {
    while (next < req.count) {
      const i = next++
      const user = `${req.userPrefix}${req.from + i}`
      const address = req.addresses[Math.floor(i / req.perAddress) % req.addresses.length]!
      for (let attempt = 1; ; attempt++) {
        try {
          if (req.protocol === 'socketio' || req.protocol === 'centrifugo' || req.protocol === 'sdk') {
            peers.add(await openPeer(req, user, address))
          } else sockets.add(await openOne(req, user, address))
          opened++
          break
        } catch (err) {
          if (attempt >= 5) {
            failed++
            if (errors.length < 5) errors.push(`${user}: ${(err as Error).message}`)
            break
          }
          retries++
          await delay(200 * attempt) // backoff of a refused handshake, bounded (5 attempts)
        }
      }
    }
  }
  await Promise.all(Array.from({ length: Math.min(req.concurrency, req.count) }, worker))
  return { opened, failed, retries, errors, ms: Math.round(performance.now() - t0) }
}

async function closeAll(): Promise<void> {
  closing = true
  await Promise.all([...peers].map((p) => p.close()))
  peers.clear()
  const all = [...sockets]
  const done = Promise.all(all.map((ws) => new Promise((r) => ws.once('close', r))))
  for (const ws of all) ws.close(1000)
  // a server that does not answer the close handshake: give it 10 s, then drop the TCP connections
  const t = setTimeout(() => {
    for (const ws of sockets) ws.terminate()
  }, 10_000)
  await done
  clearTimeout(t)
}

const send = (m: unknown) => process.send!(m)

process.on('message', (m: LoadgenRequest) => {
  void (async () => {
    if (m.op === 'open') send({ op: 'opened', ...(await open(m.req)) })
    else if (m.op === 'stats') {
      const stats: Stats = {
        open: sockets.size + peers.size,
        unexpectedCloses,
        frames: { ...frames },
        notifications,
        outOfOrder,
        sdkOpen,
        sdkDistinct: sdkSeen.size,
      }
      if (m.latencies) {
        stats.latenciesMs = latencies
        stats.sentMs = sentMs
        latencies = []
        sentMs = []
      }
      send({ op: 'stats', ...stats })
    } else if (m.op === 'close') {
      await closeAll()
      send({ op: 'closed' })
      process.disconnect()
    }
  })().catch((err: Error) => {
    process.stderr.write(`loadgen: ${err.stack}\n`)
    process.exit(1)
  })
})

if (process.send) send({ op: 'ready' })
