import assert from 'node:assert/strict'
import { test } from 'node:test'
import * as contracts from '@tidings/contracts'
import type WsWebSocket from 'ws'
import type { EventSourceConstructor, FetchLike } from './sse.ts'
import type { WebSocketConstructor } from './websocket.ts'
import * as wire from './wire.ts'

// ---- type level: checked by `tsc` (pnpm typecheck) ----
type Extends<A, B> = [A] extends [B] ? true : false
const ok = <T extends true>(): T | undefined => undefined

// Every frame the gateway may send (as contracts describes it) is accepted by the SDK…
ok<Extends<contracts.WelcomeFrame, wire.WelcomeFrame>>()
ok<Extends<contracts.MissedFrame, wire.MissedFrame>>()
ok<Extends<contracts.NotificationFrame, wire.NotificationFrame>>()
ok<Extends<contracts.BroadcastFrame, wire.BroadcastFrame>>()
ok<Extends<contracts.SubscribedFrame, wire.SubscribedFrame>>()
ok<Extends<contracts.ReauthFrame, wire.ReauthFrame>>()
ok<Extends<contracts.AuthenticatedFrame, wire.AuthenticatedFrame>>()
ok<Extends<contracts.PongFrame, wire.PongFrame>>()
ok<Extends<contracts.ErrorFrame, wire.ErrorFrame>>()
ok<Extends<contracts.ReconnectFrame, wire.ReconnectFrame>>()
ok<Extends<contracts.ServerFrame, wire.ServerFrame>>()
ok<Extends<wire.ServerFrame['type'], contracts.ServerFrame['type']>>()
ok<Extends<contracts.Notification, wire.Notification>>()
ok<Extends<wire.Notification, contracts.Notification>>()
// …and every frame the SDK sends satisfies the gateway's schemas.
ok<Extends<wire.AckFrame, contracts.AckFrame>>()
ok<Extends<wire.TopicFrame, contracts.TopicFrame>>()
ok<Extends<wire.AuthFrame, contracts.AuthFrame>>()
ok<Extends<wire.PingFrame, contracts.PingFrame>>()
ok<Extends<wire.ClientFrame, contracts.ClientFrame>>()
ok<Extends<wire.CloseCode, contracts.CloseCode>>()
ok<Extends<contracts.CloseCode, wire.CloseCode>>()
// The platform implementations fit the injection points without casts.
ok<Extends<typeof globalThis.WebSocket, WebSocketConstructor>>()
ok<Extends<typeof WsWebSocket, WebSocketConstructor>>()
ok<Extends<typeof EventSource, EventSourceConstructor>>()
ok<Extends<typeof globalThis.fetch, FetchLike>>()

// ---- value level ----
test('constants equal the contracts', () => {
  assert.deepEqual(wire.CloseCode, contracts.CloseCode)
  assert.deepEqual(wire.ErrorCode, contracts.ErrorCode)
  assert.equal(wire.SUBPROTOCOL, contracts.SUBPROTOCOL)
  assert.equal(wire.BEARER_SUBPROTOCOL_PREFIX, contracts.BEARER_SUBPROTOCOL_PREFIX)
  assert.equal(wire.WS_PATH, contracts.WS_PATH)
  assert.equal(wire.PROTOCOL_VERSION, contracts.PROTOCOL_VERSION)
  assert.equal(wire.TOPIC_PATTERN, contracts.TOPIC_PATTERN)
})

test('frames built by the SDK pass the gateway validators', () => {
  const validators = [contracts.AckFrame, contracts.TopicFrame, contracts.AuthFrame, contracts.PingFrame].map(
    (s) => contracts.compileValidator(s),
  )
  const frames: wire.ClientFrame[] = [
    { type: 'ack', seq: 3 },
    { type: 'subscribe', topic: 'announcements' },
    { type: 'unsubscribe', topic: 'a.b-c_d' },
    { type: 'auth', token: 'x.y.z' },
    { type: 'ping' },
  ]
  for (const f of frames)
    assert.ok(
      validators.some((v) => v(f).ok),
      JSON.stringify(f),
    )
  assert.ok(!validators.some((v) => v({ type: 'ack', seq: -1 }).ok), 'validators reject bad frames')
})
