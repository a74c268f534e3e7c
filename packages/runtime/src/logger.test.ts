import assert from 'node:assert/strict'
import { Writable } from 'node:stream'
import { test } from 'node:test'
import { createLogger, redactUrl } from './logger.ts'

test('tokens are redacted from log lines', () => {
  const lines: string[] = []
  const sink = new Writable({
    write(chunk, _enc, cb) {
      lines.push(String(chunk))
      cb()
    },
  })
  const log = createLogger('t', 'info', sink)
  log.info({ req: { headers: { authorization: 'Bearer abc.def.ghi' } }, token: 'secret-token' }, 'hello')
  assert.equal(lines.length, 1)
  assert.doesNotMatch(lines[0]!, /abc\.def\.ghi|secret-token/)
  assert.match(lines[0]!, /\[redacted\]/)
})

test('access_token is removed from URLs', () => {
  assert.equal(
    redactUrl('/v1/sse?lastSeq=3&access_token=eyJ.x.y&z=1'),
    '/v1/sse?lastSeq=3&access_token=[redacted]&z=1',
  )
  assert.equal(redactUrl('/v1/sse?access_token=eyJ'), '/v1/sse?access_token=[redacted]')
})
