import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { once } from 'node:events'
import type { AddressInfo } from 'node:net'
import { test } from 'node:test'
import { WebSocket, WebSocketServer } from 'ws'
import {
  extractServiceToken,
  extractToken,
  isOriginAllowed,
  offeredSubprotocols,
  selectSubprotocol,
  verifyServiceToken,
} from './handshake.ts'

const JWT = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJiLTEifQ.c2ln-_'

test('extractToken: Authorization Bearer, scheme case-insensitive', () => {
  for (const scheme of ['Bearer', 'bearer', 'BEARER']) {
    assert.deepEqual(extractToken({ authorization: `${scheme} ${JWT}` }), { token: JWT, via: 'header' })
  }
  assert.equal(extractToken({ authorization: `Basic ${JWT}` }), null)
  assert.equal(extractToken({ authorization: 'Bearer' }), null)
  assert.equal(extractToken({ authorization: 'Bearer ' }), null)
  assert.equal(extractToken({ authorization: `Bearer ${JWT} extra` }), null)
  assert.equal(extractToken({}), null)
})

test('extractToken: subprotocols only when tidings.v1 and one bearer.<jwt> are both offered', () => {
  const sub = (v: string | string[]) => extractToken({ 'sec-websocket-protocol': v })
  assert.deepEqual(sub(`tidings.v1, bearer.${JWT}`), { token: JWT, via: 'subprotocol' })
  assert.deepEqual(sub(`bearer.${JWT},tidings.v1`), { token: JWT, via: 'subprotocol' })
  assert.deepEqual(sub(['tidings.v1', `bearer.${JWT}`]), { token: JWT, via: 'subprotocol' })
  assert.equal(sub(`bearer.${JWT}`), null)
  assert.equal(sub('tidings.v1'), null)
  assert.equal(sub('tidings.v1, bearer.'), null)
  assert.equal(sub(`tidings.v1, bearer.${JWT}, bearer.other`), null)
  assert.equal(sub(`tidings.v2, bearer.${JWT}`), null)
  // The header wins when both are present.
  assert.deepEqual(
    extractToken({
      authorization: 'Bearer fromheader',
      'sec-websocket-protocol': `tidings.v1, bearer.${JWT}`,
    }),
    { token: 'fromheader', via: 'header' },
  )
  assert.deepEqual(offeredSubprotocols({ 'sec-websocket-protocol': ' a ,, b ' }), ['a', 'b'])
})

test('isOriginAllowed: absent passes, present must match exactly', () => {
  const list = new Set(['https://app.example.com'])
  assert.equal(isOriginAllowed(undefined, list), true)
  assert.equal(isOriginAllowed(undefined, new Set()), true)
  assert.equal(isOriginAllowed('https://app.example.com', list), true)
  for (const o of [
    'http://app.example.com',
    'https://app.example.com:8443',
    'https://app.example.com/',
    'https://APP.example.com',
    'https://evil.app.example.com',
    'https://app.example.com.evil.com',
    'null',
    '',
  ]) {
    assert.equal(isOriginAllowed(o, list), false, o)
  }
  assert.equal(isOriginAllowed('https://app.example.com', new Set()), false)
})

test('selectSubprotocol picks tidings.v1 and never the bearer entry', () => {
  assert.equal(selectSubprotocol(new Set([`bearer.${JWT}`, 'tidings.v1'])), 'tidings.v1')
  assert.equal(selectSubprotocol(new Set([`bearer.${JWT}`])), false)
  assert.equal(selectSubprotocol(new Set()), false)
})

test('selectSubprotocol with a real ws server: the response carries tidings.v1 only', async (t) => {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1', handleProtocols: selectSubprotocol })
  t.after(() => wss.close())
  await once(wss, 'listening')
  const { port } = wss.address() as AddressInfo
  const ws = new WebSocket(`ws://127.0.0.1:${port}`, ['tidings.v1', `bearer.${JWT}`])
  // 'open' follows 'upgrade' in the same tick, so both are awaited together.
  const [[res]] = (await Promise.all([once(ws, 'upgrade'), once(ws, 'open')])) as [
    [{ headers: Record<string, string> }],
    unknown,
  ]
  assert.equal(ws.protocol, 'tidings.v1')
  assert.equal(res.headers['sec-websocket-protocol'], 'tidings.v1')
  ws.close()
  await once(ws, 'close')
})

test('service tokens: Bearer header, constant-time match against digests', () => {
  const token = 'svc_0123456789abcdefghijklmnop'
  const digests = [
    createHash('sha256').update('other_0123456789abcdefghijkl').digest(),
    createHash('sha256').update(token).digest(),
  ]
  assert.equal(extractServiceToken({ authorization: `Bearer ${token}` }), token)
  assert.equal(verifyServiceToken(token, digests), true)
  assert.equal(verifyServiceToken(`${token}x`, digests), false)
  assert.equal(verifyServiceToken(token.slice(0, -1), digests), false)
  assert.equal(verifyServiceToken(null, digests), false)
  assert.equal(verifyServiceToken('', digests), false)
  assert.equal(verifyServiceToken(token, []), false)
})
