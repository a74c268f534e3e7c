import assert from 'node:assert/strict'
import { test } from 'node:test'
import { frameMark } from './frame-mark.ts'

const frame = (seq: number, id: string, title = 'Approved') =>
  `{"type":"notification","seq":${seq},"id":"${id}","kind":"loan.approved","createdAt":"2026-12-07T10:00:00.000Z","title":"${title}","body":"b","data":{}}`

test('a frame has one mark whether it came live (Buffer) or from the inbox (string)', () => {
  for (const [seq, id] of [
    [1, 'kD3v9QmPZx0aLr7TcYw2Bq'],
    [12345, 'kD3v9QmPZx0aLr7TcYw2Bq'],
    [7, 'ü-non-ascii-id'],
  ] as const) {
    const text = frame(seq, id)
    assert.equal(frameMark(Buffer.from(text), seq), frameMark(text, seq))
    assert.notEqual(frameMark(text, seq), 0)
  }
})

test('another notification under the same seq has another mark; the seq and what follows the id do not count', () => {
  assert.notEqual(
    frameMark(frame(3, 'kD3v9QmPZx0aLr7TcYw2Bq'), 3),
    frameMark(frame(3, 'Zr1c8XkQe5VbNw4HsJt6Ma'), 3),
  )
  assert.equal(
    frameMark(frame(3, 'kD3v9QmPZx0aLr7TcYw2Bq'), 3),
    frameMark(frame(40, 'kD3v9QmPZx0aLr7TcYw2Bq'), 40),
  )
  assert.equal(
    frameMark(frame(3, 'kD3v9QmPZx0aLr7TcYw2Bq', 'one title'), 3),
    frameMark(frame(3, 'kD3v9QmPZx0aLr7TcYw2Bq', 'another'), 3),
  )
})
