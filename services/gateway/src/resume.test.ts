// The resume query and Last-Event-ID: what each transport accepts, and lastId's rules.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { BAD_RESUME } from './errors.ts'
import { parseResumeQuery } from './resume.ts'

test('lastId goes with a lastSeq (and, on the WebSocket, its epoch); a bad one is BAD_RESUME', () => {
  assert.deepEqual(
    parseResumeQuery({ lastSeq: '3', epoch: 'e1', lastId: 'n3' }, 'lastSeq', { requireEpoch: true }),
    {
      lastSeq: 3,
      epoch: 'e1',
      lastId: 'n3',
    },
  )
  assert.deepEqual(parseResumeQuery({ lastSeq: '3', lastId: 'n3' }, 'lastSeq', { requireEpoch: true }), {})
  assert.deepEqual(parseResumeQuery({ lastId: 'n3' }, 'lastSeq'), {}, 'names no seq: nothing to check')
  assert.deepEqual(
    parseResumeQuery({ afterSeq: '3', lastId: 'n3' }, 'afterSeq'),
    { lastSeq: 3 },
    'REST: not read',
  )
  for (const lastId of ['', 'x'.repeat(257), ['a', 'b']])
    assert.throws(() => parseResumeQuery({ lastSeq: '3', epoch: 'e1', lastId }, 'lastSeq'), BAD_RESUME)
})
