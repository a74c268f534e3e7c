import assert from 'node:assert/strict'
import { test } from 'node:test'
import {
  DATA_MAX_BYTES,
  DATA_MAX_DEPTH,
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
