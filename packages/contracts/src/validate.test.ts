import assert from 'node:assert/strict'
import { test } from 'node:test'
import {
  DATA_MAX_BYTES,
  DATA_MAX_DEPTH,
  timestampProblem,
  validateLoanDecision,
  validateNotificationRequested,
} from './validate.ts'

const loan = {
  eventId: 'e-1',
  occurredAt: '2026-11-24T10:00:00.000Z',
  borrowerId: 'b-1042',
  loanId: 'L-77',
  decision: 'APPROVED',
  amount: { value: 50000, currency: 'BDT' },
  reasonCode: null,
  locale: 'en',
}

test('a loan decision with the required fields is valid; extra fields are tolerated', () => {
  const res = validateLoanDecision({ ...loan, internalScore: 712 })
  assert.equal(res.ok, true)
})

test('a loan decision without borrowerId names the missing field', () => {
  const { borrowerId: _b, ...rest } = loan
  const res = validateLoanDecision(rest)
  assert.equal(res.ok, false)
  assert.match(res.ok ? '' : res.message, /borrowerId/)
})

test('user ids that would break a Redis hash tag are refused', () => {
  const res = validateLoanDecision({ ...loan, borrowerId: 'b-{1}' })
  assert.equal(res.ok, false)
})

test('an unknown decision is still schema-valid (it is an unmapped event, not a bad one)', () => {
  assert.equal(validateLoanDecision({ ...loan, decision: 'ESCALATED' }).ok, true)
})

test('notifications.requested needs exactly one of userId or topic', () => {
  const base = {
    eventId: 'e',
    occurredAt: '2026-11-24T10:00:00Z',
    kind: 'document.requested',
    title: 'T',
    body: 'B',
  }
  assert.equal(validateNotificationRequested({ ...base, userId: 'u-1' }).ok, true)
  assert.equal(validateNotificationRequested({ ...base, topic: 'announcements' }).ok, true)
  const both = validateNotificationRequested({ ...base, userId: 'u-1', topic: 'announcements' })
  assert.equal(both.ok, false)
  assert.match(both.ok ? '' : both.message, /exactly one/)
  assert.equal(validateNotificationRequested(base).ok, false)
})

test('a timestamp that is not RFC 3339 is refused', () => {
  assert.equal(validateLoanDecision({ ...loan, occurredAt: 'yesterday' }).ok, false)
})

test('a timestamp of a date that does not exist is refused', () => {
  const res = validateLoanDecision({ ...loan, occurredAt: '2026-13-01T00:00:00Z' })
  assert.equal(res.ok, false)
  assert.match(res.ok ? '' : res.message, /occurredAt/)
})

test('data is bounded: nested deeper than DATA_MAX_DEPTH or bigger than DATA_MAX_BYTES is refused', () => {
  const request = {
    eventId: 'e-2',
    occurredAt: '2026-11-24T10:00:00Z',
    userId: 'b-1',
    kind: 'k',
    title: 't',
    body: 'b',
  }
  const nest = (depth: number): Record<string, unknown> => {
    let v: Record<string, unknown> = {}
    for (let i = 1; i < depth; i++) v = { a: v }
    return v
  }
  assert.equal(validateNotificationRequested({ ...request, data: nest(DATA_MAX_DEPTH) }).ok, true)
  const deep = validateNotificationRequested({ ...request, data: nest(DATA_MAX_DEPTH + 1) })
  assert.equal(deep.ok, false)
  assert.match(deep.ok ? '' : deep.message, /^\/data: nests deeper than 16 levels$/)
  // 5,000 levels: measured without recursion, and refused before anything serialises it
  const abyss = JSON.parse(`${'{"a":'.repeat(5000)}{}${'}'.repeat(5000)}`)
  assert.equal(validateNotificationRequested({ ...request, data: abyss }).ok, false)
  const arrays = JSON.parse(`{"a":${'['.repeat(5000)}${']'.repeat(5000)}}`)
  assert.equal(validateNotificationRequested({ ...request, data: arrays }).ok, false)

  assert.equal(
    validateNotificationRequested({ ...request, data: { s: 'x'.repeat(DATA_MAX_BYTES - 10) } }).ok,
    true,
  )
  const big = validateNotificationRequested({ ...request, data: { s: '৳'.repeat(DATA_MAX_BYTES / 3) } })
  assert.equal(big.ok, false, 'bytes are counted as UTF-8, not characters')
  assert.match(big.ok ? '' : big.message, /^\/data: \d+ bytes as JSON, more than 16384$/)
})

test('occurredAt must be a real instant: no lenient roll-over, no UTC year past 9999', () => {
  const problem = (occurredAt: string) => {
    const res = validateLoanDecision({ ...loan, occurredAt })
    return res.ok ? undefined : res.message
  }
  for (const ok of [
    '2024-02-29T10:00:00Z',
    '2000-02-29T23:59:59.999999999+05:45',
    '0000-01-01T00:00:00Z',
    '9999-12-31T23:59:59Z',
    '9999-12-31T23:59:59+23:59',
    '2026-11-24T10:00:00-23:59',
  ])
    assert.equal(problem(ok), undefined, ok)
  const refused: Array<[string, RegExp]> = [
    ['2026-02-30T10:00:00Z', /2026-02 has no day 30/],
    ['2026-02-29T10:00:00Z', /2026-02 has no day 29/],
    ['1900-02-29T10:00:00Z', /1900-02 has no day 29/],
    ['2026-04-31T10:00:00Z', /no day 31/],
    ['2026-04-00T10:00:00Z', /no day 00/],
    ['2026-00-10T10:00:00Z', /no month 00/],
    ['2026-11-24T24:00:00Z', /not a time of day/],
    ['2026-06-30T23:59:60Z', /not a time of day/],
    ['2026-11-24T10:00:00+24:00', /zone offset/],
    ['2026-11-24T10:00:00+05:60', /zone offset/],
    ['9999-12-31T23:59:59-23:59', /outside the years 0000–9999/],
    ['0000-01-01T00:00:00+00:01', /outside the years 0000–9999/],
  ]
  for (const [text, why] of refused) {
    const message = problem(text)
    assert.match(message ?? 'accepted', /^\/occurredAt: not a real date and time: /, text)
    assert.match(message ?? '', why, text)
  }
})

test('timestampProblem explains a timestamp of the wrong form (e.g. a CloudEvents time)', () => {
  assert.equal(timestampProblem('2026-11-24T10:00:00Z'), undefined)
  assert.match(timestampProblem('2026-11-24t10:00:00z') ?? '', /upper-case/)
  assert.match(timestampProblem('2026-11-24T10:00:00') ?? '', /zone required/)
})
