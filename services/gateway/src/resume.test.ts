// The resume query and Last-Event-ID: what each transport accepts, and lastId's rules.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { BAD_RESUME } from './errors.ts'
import { parseLastEventId, parseResumeQuery, withLastIdOf } from './resume.ts'

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

test('SSE: the query’s lastId joins a Last-Event-ID of the same seq and epoch only', () => {
  const header = parseLastEventId('e1:3')!
  assert.deepEqual(withLastIdOf({ lastSeq: '3', epoch: 'e1', lastId: 'n3' }, header), {
    epoch: 'e1',
    lastSeq: 3,
    lastId: 'n3',
  })
  // EventSource reconnects with a newer Last-Event-ID than the URL it was opened with
  assert.deepEqual(withLastIdOf({ lastSeq: '2', epoch: 'e1', lastId: 'n2' }, header), header)
  // the header wins: a query it overrides is not checked
  assert.deepEqual(withLastIdOf({ lastSeq: 'x', lastId: '' }, header), header)
})
