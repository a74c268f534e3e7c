import assert from 'node:assert/strict'
import { test } from 'node:test'
import { decodeLiveNotification, readSeq } from './live-message.ts'

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
