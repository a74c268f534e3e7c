// A client wired to fakes (manual clock, scriptable sockets) that records what it does: shared by the
// client's unit tests. Not part of the build.
import assert from 'node:assert/strict'
import {
  createTidingsClient,
  type StateEvent,
  type TidingsClientOptions,
  type TokenReason,
} from '../client.ts'
import type { TidingsError } from '../errors.ts'
import type { NotificationFrame } from '../wire.ts'
import { FakeClock, type FakeSocket, fakeWebSocket, settle, until } from './fakes.ts'

export const welcome = (epoch = 'e1', extra: object = {}) => ({
  type: 'welcome',
  sessionId: 's1',
  userId: 'u1',
  epoch,
  heartbeatMs: 10_000,
  protocol: 1,
  ...extra,
})
export const note = (seq: number, id = `n${seq}`): NotificationFrame => ({
  type: 'notification',
  seq,
  id,
  kind: 'test',
  createdAt: '2026-11-24T10:00:00.000Z',
  title: `t${seq}`,
  body: 'b',
  data: {},
})

export function setup(overrides: Partial<TidingsClientOptions> = {}) {
  const clock = new FakeClock()
  const ws = fakeWebSocket()
  const tokens: TokenReason[] = []
  const handled: number[] = []
  const states: StateEvent[] = []
  const errors: TidingsError[] = []
  let tokenN = 0
  const client = createTidingsClient({
    url: 'wss://gw.example',
    getToken: ({ reason }) => {
      tokens.push(reason)
      return `jwt-${++tokenN}`
    },
    WebSocket: ws.WebSocket,
    clock,
    random: () => 0.5,
    sse: false,
    // no network in unit tests (the upgrade probe and SSE acks use fetch): tests that need it pass one
    fetch: () => Promise.reject(new TypeError('fetch failed')),
    onNotification: (n) => {
      handled.push(n.seq)
    },
    ...overrides,
  })
  client.on('state', (s) => states.push(s))
  client.on('error', (e) => errors.push(e))
  const socket = (i: number): FakeSocket => {
    const s = ws.sockets[i]
    assert.ok(s, `socket #${i} was opened`)
    return s
  }
  /** Waits for socket #i, opens it and sends `welcome`. */
  const accept = async (i: number, frame: object = welcome()): Promise<FakeSocket> => {
    await until(() => ws.sockets.length > i, `socket #${i}`)
    const s = socket(i)
    s.open()
    s.receive(frame)
    await settle()
    return s
  }
  return { client, clock, ws, tokens, handled, states, errors, socket, accept }
}
