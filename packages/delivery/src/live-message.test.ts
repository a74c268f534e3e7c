import assert from 'node:assert/strict'
import { test } from 'node:test'
import { decodeLiveNotification, readSeq } from './live-message.ts'
import { encodeMeta, isTraceparent, splitEntry, splitMessage } from './meta.ts'

test('reads the seq of a deliver-script frame without parsing JSON', () => {
  assert.equal(readSeq('{"type":"notification","seq":42,"id":"x"}'), 42)
  assert.equal(readSeq(Buffer.from('{"type":"notification","seq":7,"id":"x"}')), 7)
})

test('anything else is not a notification frame', () => {
  assert.equal(readSeq('{"type":"broadcast","seq":1,'), null)
  assert.equal(readSeq('{"type":"notification","seq":,'), null)
  assert.equal(readSeq('{"type":"notification","seq":12'), null)
  assert.equal(readSeq('{"type":"notification","seq":1x,'), null)
})

test('decodes <epoch>\\n<frame> once; the frame is a view, not a copy', () => {
  const msg = Buffer.from('ep0ch\n{"type":"notification","seq":3,"id":"a"}')
  const live = decodeLiveNotification(msg)
  assert.ok(live)
  assert.equal(live.epoch, 'ep0ch')
  assert.equal(live.seq, 3)
  assert.equal(live.frame.toString(), '{"type":"notification","seq":3,"id":"a"}')
  assert.equal(live.frame.buffer, msg.buffer)
  assert.equal(decodeLiveNotification(Buffer.from('no-newline')), null)
})

test('a meta line between the epoch and the frame is taken off the frame', () => {
  const tp = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01'
  const msg = Buffer.from(`ep0ch\n@1764000000123;${tp}\n{"type":"notification","seq":3,"id":"a"}`)
  const live = decodeLiveNotification(msg)
  assert.ok(live)
  assert.equal(live.seq, 3)
  assert.equal(live.frame.toString(), '{"type":"notification","seq":3,"id":"a"}')
  assert.deepEqual(live.meta, { producedAt: 1764000000123, traceparent: tp })
})

test('meta lines: encoded only when there is something valid to carry; read back leniently', () => {
  const tp = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01'
  assert.equal(encodeMeta(undefined), '')
  assert.equal(encodeMeta({}), '')
  assert.equal(encodeMeta({ producedAt: -1, traceparent: 'x' }), '')
  assert.equal(encodeMeta({ producedAt: 5 }), '@5;\n')
  assert.equal(encodeMeta({ traceparent: tp }), `@;${tp}\n`)
  // W3C: version ff, all-zero ids and upper-case hex are invalid
  assert.equal(isTraceparent(tp), true)
  assert.equal(isTraceparent(`ff${tp.slice(2)}`), false)
  assert.equal(isTraceparent('00-00000000000000000000000000000000-b7ad6b7169203331-01'), false)
  assert.equal(isTraceparent('00-0af7651916cd43dd8448eb211c80319c-0000000000000000-01'), false)
  assert.equal(isTraceparent(tp.toUpperCase()), false)
  assert.deepEqual(splitEntry('{"a":1}'), { frame: '{"a":1}', meta: undefined })
  assert.deepEqual(splitEntry(`@7;${tp}\n{"a":1}`), {
    frame: '{"a":1}',
    meta: { producedAt: 7, traceparent: tp },
  })
  assert.deepEqual(splitEntry('@x;junk\n{"a":1}'), { frame: '{"a":1}', meta: {} })
  const m = splitMessage(Buffer.from(`@;${tp}\n{"b":2}`))
  assert.equal(m.frame.toString(), '{"b":2}')
  assert.deepEqual(m.meta, { traceparent: tp })
})
