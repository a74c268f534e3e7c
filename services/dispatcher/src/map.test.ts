import assert from 'node:assert/strict'
import { test } from 'node:test'
import { LOAN_DECISIONS, LOCALES } from '@tidings/contracts'
import { type DecodedEvent, decodeEvent } from './decode.ts'
import { canonicalInstant, type Delivery, notificationId, toDelivery } from './map.ts'
import { MAPPED_DECISIONS, renderLoanDecision } from './templates.ts'

const TOPIC = 'loan.decisions'
const loan = {
  eventId: 'e-1',
  occurredAt: '2026-11-24T16:00:00.5+06:00',
  borrowerId: 'b-1042',
  loanId: 'L-77',
  decision: 'APPROVED',
  amount: { value: 50000, currency: 'BDT' },
  reasonCode: 'R-12',
  locale: 'en',
}

function decoded(
  value: object,
  type: 'loan.decision' | 'notification.requested' = 'loan.decision',
): DecodedEvent {
  const res = decodeEvent({ value: Buffer.from(JSON.stringify(value)) }, type, 65536)
  assert.ok(res.ok, res.ok ? '' : res.message)
  return res.value
}

function mapped(value: object, type?: 'loan.decision' | 'notification.requested', topic = TOPIC): Delivery {
  const res = toDelivery(decoded(value, type), topic)
  assert.ok(res.ok, res.ok ? '' : res.message)
  return res.value
}

test('an approved loan in English: kind, title, body with loan id and amount, UTC createdAt', () => {
  const d = mapped(loan)
  assert.equal(d.target, 'user')
  assert.equal(d.target === 'user' && d.userId, 'b-1042')
  assert.equal(d.dedupeId, 'loan.decisions:e-1')
  const n = d.notification
  assert.equal(n.kind, 'loan.decision')
  assert.equal(n.title, 'Your loan application has been approved!')
  assert.match(n.body, /L-77/)
  assert.match(n.body, /50,000\.00/)
  assert.equal(n.createdAt, '2026-11-24T10:00:00.500Z')
})

test('the same event in Bangla', () => {
  const n = mapped({ ...loan, locale: 'bn' }).notification
  assert.equal(n.title, 'আপনার ঋণের আবেদন অনুমোদিত হয়েছে!')
  assert.match(n.body, /L-77/)
  assert.match(n.body, /৫০,০০০/) // Bengali digits
  assert.match(n.body, /অনুমোদিত/)
})

test('an unknown, absent or regional locale falls back to English', () => {
  const english = mapped(loan).notification
  for (const locale of ['fr', 'bn-BD', null, undefined]) {
    const n = mapped({ ...loan, locale }).notification
    assert.equal(n.title, english.title, `locale ${locale}`)
    assert.equal(n.body, english.body)
  }
})

test('data is the whitelist { loanId, decision, amount? }: no reasonCode, locale or extra fields', () => {
  const n = mapped({ ...loan, internalScore: 712, borrower: { name: 'X' } }).notification
  assert.deepEqual(n.data, {
    loanId: 'L-77',
    decision: 'APPROVED',
    amount: { value: 50000, currency: 'BDT' },
  })
  const extraInAmount = mapped({ ...loan, amount: { value: 1, currency: 'BDT', rate: 0.2 } }).notification
  assert.deepEqual(extraInAmount.data.amount, { value: 1, currency: 'BDT' })
  assert.deepEqual(Object.keys(n).sort(), ['body', 'createdAt', 'data', 'id', 'kind', 'title'])
})

test('amount is left out when absent or null, and the body does not mention one', () => {
  for (const amount of [undefined, null]) {
    const n = mapped({ ...loan, amount }).notification
    assert.deepEqual(n.data, { loanId: 'L-77', decision: 'APPROVED' })
    assert.doesNotMatch(n.body, /৳|BDT|undefined|null/)
  }
})

test('every decision of the contract has a template in every locale', () => {
  for (const decision of LOAN_DECISIONS) {
    for (const locale of LOCALES) {
      const text = renderLoanDecision(decision, locale, { loanId: 'L-1' })
      assert.ok(text, `${decision}/${locale}`)
      assert.ok(text.title.length > 0 && text.body.includes('L-1'), `${decision}/${locale}`)
    }
    const en = renderLoanDecision(decision, 'en', { loanId: 'L-1' })
    const bn = renderLoanDecision(decision, 'bn', { loanId: 'L-1' })
    assert.notEqual(en?.title, bn?.title, `${decision} is translated`)
    assert.match(bn?.title ?? '', /[\u0980-\u09FF]/, `${decision} Bangla title is in Bengali script`)
  }
  assert.deepEqual([...MAPPED_DECISIONS].sort(), [...LOAN_DECISIONS].sort())
})

test('a decision without a template is unmapped, including names of Object.prototype members', () => {
  for (const decision of ['ESCALATED', 'toString', '__proto__', 'constructor', 'approved']) {
    const res = toDelivery(decoded({ ...loan, decision }), TOPIC)
    assert.equal(res.ok, false, decision)
    assert.equal(!res.ok && res.reason, 'unmapped')
    assert.match(!res.ok ? res.message : '', /has no template/)
  }
})

test('notification ids are stable per (source topic, event id, user) and differ otherwise', () => {
  const a = mapped(loan).notification.id
  assert.equal(
    mapped({ ...loan, decision: 'REJECTED', locale: 'bn' }).notification.id,
    a,
    'content does not matter',
  )
  assert.notEqual(mapped({ ...loan, eventId: 'e-2' }).notification.id, a)
  assert.notEqual(mapped({ ...loan, borrowerId: 'b-1043' }).notification.id, a)
  assert.notEqual(mapped(loan, 'loan.decision', 'other.topic').notification.id, a)
  assert.match(a, /^[A-Za-z0-9_-]{22}$/)
  assert.equal(notificationId(TOPIC, 'e-1', { userId: 'b-1042' }), a)
  assert.notEqual(notificationId(TOPIC, 'e-1', { topic: 'b-1042' }), a, 'a topic is not a user')
})

test('a notification request for a user keeps its kind, title, body and data; data defaults to {}', () => {
  const req = {
    eventId: 'r-1',
    occurredAt: '2026-11-24T10:00:00Z',
    userId: 'u-1',
    kind: 'document.requested',
    title: 'Upload your NID',
    body: 'We need a copy.',
    data: { documentId: 'D-5', nested: { a: [1, 2] } },
    priority: 'high',
  }
  const d = mapped(req, 'notification.requested', 'notifications.requested')
  assert.equal(d.target, 'user')
  assert.equal(d.dedupeId, 'notifications.requested:r-1')
  assert.deepEqual(d.notification, {
    id: notificationId('notifications.requested', 'r-1', { userId: 'u-1' }),
    kind: 'document.requested',
    createdAt: '2026-11-24T10:00:00.000Z',
    title: 'Upload your NID',
    body: 'We need a copy.',
    data: { documentId: 'D-5', nested: { a: [1, 2] } },
  })
  const { data: _d, ...noData } = req
  assert.deepEqual(mapped(noData, 'notification.requested').notification.data, {})
})

test('a notification request for a topic is a broadcast', () => {
  const { userId: _u, ...rest } = {
    eventId: 'r-2',
    occurredAt: '2026-11-24T10:00:00Z',
    userId: 'x',
    kind: 'announcement',
    title: 'Eid holidays',
    body: 'Offices are closed.',
  }
  const d = mapped({ ...rest, topic: 'announcements' }, 'notification.requested', 'notifications.requested')
  assert.equal(d.target, 'topic')
  assert.equal(d.target === 'topic' && d.topic, 'announcements')
  assert.equal(
    d.notification.id,
    notificationId('notifications.requested', 'r-2', { topic: 'announcements' }),
  )
})

test('createdAt: a canonical occurredAt is kept as is, anything else normalised, same text either way', () => {
  const samples = [
    '2026-11-24T10:00:00.000Z',
    '2026-02-28T23:59:59.999Z',
    '2026-02-29T00:00:00.000Z', // not a leap year: March 1st
    '2024-02-29T12:00:00.000Z',
    '2026-04-31T00:00:00.000Z',
    '2026-11-24T10:00:00Z',
    '2026-11-24T10:00:00.1Z',
    '2026-11-24T12:00:00+02:00',
    '2026-11-24T24:00:00.000Z',
    '0000-01-01T00:00:00.000Z',
  ]
  for (const s of samples) assert.equal(canonicalInstant(s), new Date(s).toISOString(), s)
  const t0 = Date.UTC(2026, 0, 1)
  for (let i = 0; i < 2000; i++) {
    const s = new Date(t0 + i * 15_731_113_777).toISOString()
    assert.equal(canonicalInstant(s), s)
  }
})
