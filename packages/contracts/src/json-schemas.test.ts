import assert from 'node:assert/strict'
import { readdirSync, readFileSync } from 'node:fs'
import { test } from 'node:test'
import { Value } from '@sinclair/typebox/value'
import { Ajv } from 'ajv'
import { renderJsonSchemas, SCHEMA_FILES } from './json-schemas.ts'
import { validateNotificationRequested } from './validate.ts'

const dir = new URL('../../../docs/schemas/', import.meta.url)

test('docs/schemas is what the TypeBox schemas generate (run `pnpm --filter @tidings/contracts schemas`)', () => {
  const expected = renderJsonSchemas()
  const onDisk = readdirSync(dir).filter((n) => n.endsWith('.json'))
  assert.deepEqual(onDisk.sort(), [...expected.keys()].sort(), 'the same files')
  for (const [name, text] of expected) {
    assert.equal(readFileSync(new URL(name, dir), 'utf8'), text, `docs/schemas/${name} is stale`)
  }
})

// A standard validator (Ajv, strict mode) must compile every file and agree with TypeBox, so that other
// languages' validators see the contract the services enforce.
const ajv = new Ajv({ strict: true, strictRequired: false, allErrors: true }) // required-in-oneOf is legal JSON Schema
const fromFile = (name: string) => ajv.compile(JSON.parse(readFileSync(new URL(name, dir), 'utf8')))

const frame = {
  type: 'notification',
  seq: 1,
  id: 'i',
  kind: 'k',
  createdAt: '2026-11-24T10:00:00.000Z',
  title: 't',
  body: '',
  data: {},
}

test('every file compiles with Ajv (draft-07, strict mode) and agrees with TypeBox on samples', () => {
  const samples: Record<string, unknown[]> = {
    'loan-decision-event.json': [
      {
        eventId: 'e',
        occurredAt: '2026-11-24T10:00:00Z',
        borrowerId: 'b-1',
        loanId: 'L',
        decision: 'APPROVED',
      },
      { eventId: 'e', occurredAt: '2026-11-24', borrowerId: 'b-1', loanId: 'L', decision: 'APPROVED' },
      { eventId: 'e', occurredAt: '2026-11-24T10:00:00Z', borrowerId: 'b 1', loanId: 'L', decision: 'X' },
      {
        eventId: '',
        occurredAt: '2026-11-24T10:00:00Z',
        borrowerId: 'b-1',
        loanId: 'L',
        decision: 'X',
        amount: null,
      },
    ],
    'welcome-frame.json': [
      { type: 'welcome', sessionId: 's', userId: 'u', epoch: 'E1', heartbeatMs: 25000, protocol: 1 },
      { type: 'welcome', sessionId: 's', userId: 'u', epoch: 'E1', heartbeatMs: 25000, protocol: 2 },
    ],
    'notification-frame.json': [frame, { ...frame, seq: 0 }, { ...frame, createdAt: 'yesterday' }],
    'ack-frame.json': [
      { type: 'ack', seq: 3 },
      { type: 'ack', seq: -1 },
      { type: 'ack', seq: 1.5 },
    ],
    'error-frame.json': [
      { type: 'error', code: 'bad_request', message: 'm' },
      { type: 'error', code: 'nope', message: 'm' },
    ],
    'inbox-ack-request.json': [
      { seq: 1, epoch: 'E' },
      { seq: 1, extra: true },
    ],
  }
  for (const f of SCHEMA_FILES) {
    const check = fromFile(f.file)
    for (const sample of samples[f.file] ?? []) {
      assert.equal(check(sample), Value.Check(f.schema, sample), `${f.file}: ${JSON.stringify(sample)}`)
    }
  }
})

test('the file states the exactly-one-of userId/topic rule that validate.ts checks in code', () => {
  const check = fromFile('notification-requested-event.json')
  const base = { eventId: 'e', occurredAt: '2026-11-24T10:00:00Z', kind: 'k', title: 't', body: 'b' }
  for (const v of [
    base,
    { ...base, userId: 'u' },
    { ...base, topic: 't' },
    { ...base, userId: 'u', topic: 't' },
  ]) {
    assert.equal(check(v), validateNotificationRequested(v).ok, JSON.stringify(v))
  }
})
