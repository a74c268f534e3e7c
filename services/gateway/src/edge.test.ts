import assert from 'node:assert/strict'
import { once } from 'node:events'
import { connect } from 'node:net'
import { after, before, describe, test } from 'node:test'
import { createRedisConnection, userStateKey } from '@tidings/delivery'
import { infraFromEnv, uniqueName, waitFor } from '@tidings/test/infra'
import { clientFrame, closeCodeIn, Opcode, rawUpgrade } from '@tidings/test/support/raw-ws'
import { signUserToken } from '@tidings/test/support/tokens'
import { openSocket } from '@tidings/test/support/ws-client'
import { startTestGateway, type TestGateway } from './testing/test-gateway.ts'

const SERVICE_TOKEN = 'svc_edge_0123456789abcdefghij'
const bearer = async (userId = uniqueName('u')) => ({
  authorization: `Bearer ${await signUserToken(userId)}`,
})

describe('the edge: upgrades, closing sockets, control frames, queues', () => {
  let gw: TestGateway
  before(async () => {
    gw = await startTestGateway({
      SERVICE_TOKENS: SERVICE_TOKEN,
      CLOSE_TIMEOUT_MS: '300',
      RATE_LIMIT_PER_SECOND: '5',
      RATE_LIMIT_BURST: '10',
      MAX_QUEUED_FRAMES: '3',
    })
  })
  after(() => gw.stop())

  test('Upgrade: websocket on any route but /v1/ws is refused with an HTTP error, never upgraded', async () => {
    const user = uniqueName('u')
    for (const path of [
      '/healthz',
      '/readyz',
      '/metrics',
      '/v1/sse',
      '/v1/inbox',
      `/v1/presence/${user}`,
      '/nope',
    ]) {
      const r = await rawUpgrade(gw.url, path, await bearer(user))
      assert.notEqual(r.status, 101, `${path} was upgraded`)
      assert.equal(r.status, 400, `${path}: ${r.response}`)
      assert.match(r.response, /TDG_ERR_UPGRADE_REFUSED/)
      await r.ended
    }
    // and /v1/ws still upgrades
    const ok = await rawUpgrade(gw.url, '/v1/ws', await bearer())
    assert.equal(ok.status, 101)
    ok.socket.destroy()
  })

  test('the path of /v1/ws is read as the router reads it: absolute-form (RFC 9112 §3.2.2), a fragment', async () => {
    const user = uniqueName('u')
    // a server must accept the absolute-form; Fastify's router (find-my-way) did for this route
    for (const target of [`${gw.url}/v1/ws`, `${gw.url}/v1/ws?lastSeq=0&epoch=e1`, '/v1/ws#top']) {
      const r = await rawUpgrade(gw.url, target, await bearer(user))
      assert.equal(r.status, 101, `${target}: ${r.response}`)
      r.socket.destroy()
      await r.ended
    }
    // and another route in absolute-form is still refused
    const other = await rawUpgrade(gw.url, `${gw.url}/healthz`, await bearer(user))
    assert.equal(other.status, 400, other.response)
    assert.match(other.response, /TDG_ERR_UPGRADE_REFUSED/)
    await other.ended
  })

  test('a refused handshake carries a Date header, like every other response (RFC 9110 §6.6.1)', async () => {
    for (const [path, headers] of [
      ['/v1/ws', {}],
      ['/healthz', await bearer()],
    ] as const) {
      const r = await rawUpgrade(gw.url, path, headers)
      assert.ok(r.status >= 400, r.response)
      const date = /^date: (.+)$/im.exec(r.response)?.[1]
      assert.ok(date !== undefined && !Number.isNaN(Date.parse(date)), r.response)
      await r.ended
    }
  })

  test('an upgrade to another protocol (h2c) is an ordinary request, keep-alive and body included', async () => {
    const { port, hostname } = new URL(gw.url)
    const socket = connect(Number(port), hostname)
    socket.on('error', () => {})
    let response = ''
    socket.on('data', (c: Buffer) => {
      response += c.toString()
    })
    const answers = () => [...response.matchAll(/^HTTP\/1.1 (\d+) /gm)].map((m) => Number(m[1]))
    const offer = `Connection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAoAAAAAIAAAAA`
    socket.write(`GET /healthz HTTP/1.1\r\nHost: ${hostname}\r\n${offer}\r\n\r\n`)
    await waitFor(() => answers().length === 1 && response.includes('"status":"ok"'), { message: response })
    // the connection stays open for the next request, whose body reaches its route
    const body = JSON.stringify({ seq: 0 })
    socket.write(
      `POST /v1/inbox/ack HTTP/1.1\r\nHost: ${hostname}\r\n${offer}\r\nAuthorization: ${(await bearer()).authorization}\r\n` +
        `Content-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`,
    )
    await waitFor(() => answers().length === 2, { message: response })
    socket.destroy()
    assert.deepEqual(answers(), [200, 204], response)
    // and a plain GET of /v1/ws is told to upgrade
    const plain = await fetch(`${gw.url}/v1/ws`)
    assert.equal(plain.status, 426)
    assert.equal(((await plain.json()) as { code: string }).code, 'TDG_ERR_NOT_WEBSOCKET')
  })

  test('an upgrade pipelined behind a request waits for its answer: both answered in order, the pod stays up', async () => {
    const { port, hostname } = new URL(gw.url)
    const h2c = `GET /healthz HTTP/1.1\r\nHost: ${hostname}\r\nConnection: Upgrade, close\r\nUpgrade: h2c\r\n\r\n`
    const refused = `GET /nope HTTP/1.1\r\nHost: ${hostname}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n`
    for (const [second, status] of [
      [h2c, 200],
      [refused, 400],
    ] as const) {
      const socket = connect(Number(port), hostname)
      socket.on('error', () => {})
      const chunks: Buffer[] = []
      socket.on('data', (c: Buffer) => chunks.push(c))
      // one write: the upgrade arrives while the answer to /readyz (a Redis round trip) is pending
      socket.write(`GET /readyz HTTP/1.1\r\nHost: ${hostname}\r\n\r\n${second}`)
      await once(socket, 'close')
      const answers = Buffer.concat(chunks).toString()
      const statuses = [...answers.matchAll(/^HTTP\/1.1 (\d+) /gm)].map((m) => Number(m[1]))
      assert.deepEqual(statuses, [200, status])
    }
    assert.equal((await fetch(`${gw.url}/healthz`)).status, 200)
  })

  test('an SSE stream asked for with an h2c upgrade offer ends when the client goes away: its slot is freed', async () => {
    const { port, hostname } = new URL(gw.url)
    const socket = connect(Number(port), hostname)
    socket.on('error', () => {})
    socket.write(
      `GET /v1/sse HTTP/1.1\r\nHost: ${hostname}\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n` +
        `Authorization: ${(await bearer()).authorization}\r\n\r\n`,
    )
    const [head] = (await once(socket, 'data')) as [Buffer]
    assert.match(head.toString(), /^HTTP\/1.1 200 [\s\S]*text\/event-stream/)
    assert.equal(gw.gateway.pod.openSockets, 1)
    // the client leaves without a word: the server notices (not only at a later write) and frees the slot
    socket.end()
    await waitFor(() => gw.gateway.pod.openSockets === 0, { message: 'the SSE slot was never freed' })
    socket.destroy()
  })

  test('a socket the server closed is terminated when the client never answers the close', async () => {
    const r = await rawUpgrade(gw.url, '/v1/ws', await bearer())
    assert.equal(r.status, 101)
    r.send(Opcode.Binary, Buffer.from([1, 2, 3]))
    // the server sent close 1003 and waits CLOSE_TIMEOUT_MS (300 ms) for our close frame, which
    // never comes; ws's own default would keep the socket 30 s
    await waitFor(() => closeCodeIn(r.received()) === 1003, { message: 'close 1003' })
    await waitFor(() => r.socket.destroyed || r.socket.readableEnded, {
      timeoutMs: 20_000,
      message: 'server dropped the TCP connection',
    })
  })

  test('ping control frames count against the frame rate limit → 4008', async () => {
    const s = await openSocket(gw.url, { token: await signUserToken(uniqueName('u')) })
    await s.next('welcome')
    // one ping at a time, each after the previous pong: only the rate limit can stop this
    let pongs = 0
    s.ws.on('pong', () => {
      pongs++
      if (s.ws.readyState === s.ws.OPEN) s.ws.ping()
    })
    s.ws.ping()
    assert.equal((await s.closed).code, 4008)
    assert.ok(pongs >= 5, `pongs: ${pongs}`)
  })

  test('a ping flood from a client that does not read its pongs is dropped', async () => {
    const r = await rawUpgrade(gw.url, '/v1/ws', await bearer())
    assert.equal(r.status, 101)
    r.socket.pause()
    const flood = []
    for (let i = 0; i < 200; i++) flood.push(clientFrame(Opcode.Ping, Buffer.alloc(125, 1)))
    r.socket.write(Buffer.concat(flood))
    await waitFor(() => gw.gateway.pod.openSockets === 0, { message: 'the socket was dropped' })
    r.socket.resume()
    await r.ended
  })

  test('frames queued behind an awaiting handler are bounded → 4008', async () => {
    const s = await openSocket(gw.url, { token: await signUserToken(uniqueName('u')) })
    const w = await s.next('welcome')
    // acks await Redis; sent in one burst they all arrive before the first one is done
    const burst = Array.from({ length: 8 }, () => JSON.stringify({ type: 'ack', seq: 0, epoch: w.epoch }))
    for (const f of burst) s.ws.send(f)
    assert.equal((await s.closed).code, 4008)
  })

  test('presence answers for a valid 128-character user id (was 414)', async () => {
    const user = `u${'x'.repeat(127)}`
    const res = await fetch(`${gw.url}/v1/presence/${user}`, {
      headers: { authorization: `Bearer ${SERVICE_TOKEN}` },
    })
    assert.equal(res.status, 200)
    assert.deepEqual(await res.json(), { online: false, sessions: 0 })
  })
})

describe('the pod caps its connections, closing ones included', () => {
  let gw: TestGateway
  before(async () => {
    // closing sockets linger (a long close timeout): they must still count
    gw = await startTestGateway({ MAX_CONNECTIONS: '2', CLOSE_TIMEOUT_MS: '30000' })
  })
  after(() => gw.stop())

  test('sockets closed by the server but not answered hold their slot; the next upgrade gets 503', async () => {
    const lingering = []
    for (let i = 0; i < 2; i++) {
      const r = await rawUpgrade(gw.url, '/v1/ws', await bearer())
      assert.equal(r.status, 101)
      r.send(Opcode.Binary, Buffer.from([0]))
      await waitFor(() => closeCodeIn(r.received()) === 1003, { message: 'close 1003' })
      lingering.push(r)
    }
    await waitFor(() => gw.gateway.pod.sessions.size === 0, { message: 'sessions released' })
    const third = await rawUpgrade(gw.url, '/v1/ws', await bearer())
    assert.equal(third.status, 503, third.response)
    assert.match(third.response, /TDG_ERR_TRY_AGAIN_LATER/)
    for (const r of lingering) r.socket.destroy()
    await waitFor(() => gw.gateway.pod.openSockets === 0, { message: 'slots released' })
    const s = await openSocket(gw.url, { token: await signUserToken(uniqueName('u')) })
    await s.next('welcome')
    await s.close()
  })
})

describe('logs', () => {
  const logs: string[] = []
  let gw: TestGateway
  before(async () => {
    gw = await startTestGateway({ LOG_LEVEL: 'info' }, { logs })
  })
  after(() => gw.stop())

  test('a Redis error about a user’s keys reaches the log without the user id', async () => {
    const user = uniqueName('u-private')
    // the user's state key holds the wrong type: the read script fails with WRONGTYPE, and
    // ioredis attaches the command (key names) to the error
    const redis = createRedisConnection({ url: infraFromEnv().redisUrl }, { name: 'edge-test' })
    await redis.set(userStateKey(user), 'not a hash')
    const s = await openSocket(gw.url, { token: await signUserToken(user) })
    assert.equal((await s.closed).code, 1013)
    await waitFor(() => logs.some((l) => l.includes('session failed')), { message: 'the failure is logged' })
    const line = logs.find((l) => l.includes('session failed'))!
    assert.match(line, /WRONGTYPE|wrong kind/i)
    assert.ok(!logs.some((l) => l.includes(user)), line)
    await redis.del(userStateKey(user))
    redis.disconnect()
  })
})
