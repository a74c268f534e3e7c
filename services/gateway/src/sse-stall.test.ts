import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { uniqueName, waitFor } from '@tidings/test/infra'
import { openStalledSse } from '@tidings/test/support/raw-sse'
import { openSse } from '@tidings/test/support/sse-client'
import { signUserToken } from '@tidings/test/support/tokens'
import { notification, startTestGateway, type TestGateway } from './testing/test-gateway.ts'

// A phone that vanished (no FIN, no RST) never acknowledges again: what the pod writes piles up
// in the kernel and then in Node. A client that stopped reading looks the same from the pod.
describe('an SSE stream whose peer stopped acknowledging', () => {
  let gw: TestGateway
  before(async () => {
    // a large backlog allowance: the slow-reader limit must not be what ends this stream
    gw = await startTestGateway({ HEARTBEAT_MS: '1000', MAX_BUFFERED_BYTES: String(64 * 1_048_576) })
  })
  after(() => gw.stop())

  test('is dropped when a heartbeat is still unwritten at the next one (its session slot comes back)', async () => {
    const user = uniqueName('u')
    const { socket, head } = await openStalledSse(gw.url, {
      authorization: `Bearer ${await signUserToken(user)}`,
    })
    assert.match(head, /^HTTP\/1\.1 200/)
    await waitFor(() => gw.gateway.pod.sessions.size === 1, { message: 'session open' })
    // enough to fill the socket buffers on both sides of the loopback
    const big = { ...notification('big'), body: 'x'.repeat(512 * 1024) }
    for (let i = 0; i < 32; i++) await gw.store.deliverToUser(user, uniqueName('big'), big)
    await waitFor(() => gw.gateway.pod.sessions.size === 0, {
      timeoutMs: 30_000,
      message: 'the stalled stream was dropped',
    })
    socket.destroy()
  })
})

// An idle phone that vanished leaves nothing to detect (every keep-alive fits in the kernel's buffer):
// the stream's age limit frees the slot, and a live client resumes on a new stream.
describe('an SSE stream at its age limit', () => {
  let gw: TestGateway
  before(async () => {
    gw = await startTestGateway({ SSE_MAX_STREAM_MS: '1000' })
  })
  after(() => gw.stop())

  test('ends with reconnect and close 1012, freeing its session slot', async () => {
    const user = uniqueName('u')
    const sse = await openSse(`${gw.url}/v1/sse`, { authorization: `Bearer ${await signUserToken(user)}` })
    await sse.next('welcome')
    assert.equal(JSON.parse((await sse.next('reconnect')).data).afterMs, 0)
    assert.equal(JSON.parse((await sse.next('close')).data).code, 1012)
    await sse.ended
    await waitFor(() => gw.gateway.pod.sessions.size === 0, { message: 'the slot is free' })
  })
})

// A stream the server ends (1013 here) while its peer does not read: the end is queued behind the
// backlog and the connection would never close, holding a MAX_CONNECTIONS slot and a descriptor.
describe('an SSE stream ended while its peer is not reading', () => {
  let gw: TestGateway
  before(async () => {
    gw = await startTestGateway({ MAX_BUFFERED_BYTES: '16384', CLOSE_TIMEOUT_MS: '300' })
  })
  after(() => gw.stop())

  test('is destroyed after CLOSE_TIMEOUT_MS, and its connection slot comes back', async () => {
    const user = uniqueName('u')
    const { socket } = await openStalledSse(gw.url, { authorization: `Bearer ${await signUserToken(user)}` })
    try {
      await waitFor(() => gw.gateway.pod.sessions.size === 1, { message: 'session open' })
      const big = { ...notification('big'), body: 'x'.repeat(256 * 1024) }
      for (let i = 0; i < 64 && gw.gateway.pod.sessions.size > 0; i++)
        await gw.store.deliverToUser(user, uniqueName('big'), big)
      await waitFor(() => gw.gateway.pod.sessions.size === 0, { message: 'closed as a slow reader' })
      await waitFor(() => gw.gateway.pod.openSockets === 0, { message: 'the connection is gone' })
    } finally {
      socket.destroy()
    }
  })
})
