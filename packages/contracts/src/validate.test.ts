import assert from 'node:assert/strict'
import { test } from 'node:test'
import { validateLoanDecision, validateNotificationRequested } from './validate.ts'

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
