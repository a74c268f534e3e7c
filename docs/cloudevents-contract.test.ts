// The published contract for CloudEvents (docs/asyncapi.yaml with docs/schemas/*-cloudevent-data.json)
// and the dispatcher's decoder agree: what the contract calls valid is accepted, and what the decoder
// dead-letters the contract calls invalid. A producer in another language (a Java/Spring service with
// the CloudEvents SDK) validates against the contract; it must not learn the rules from the DLQ.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { fromFile, Parser } from '@asyncapi/parser'
import { Ajv } from 'ajv'
import { Timestamp } from '../packages/contracts/src/ids.ts'
import { decodeEvent } from '../services/dispatcher/src/decode.ts'

const file = fileURLToPath(new URL('./asyncapi.yaml', import.meta.url))

async function messages() {
  const { document } = await fromFile(new Parser(), file).parse()
  assert.ok(document)
  // the parser annotates schemas with x-parser-* keys: not strict about unknown keywords
  const ajv = new Ajv({ strict: false, allErrors: true })
  const compiled = (id: string) => {
    const m = document.components().messages().get(id)
    assert.ok(m, id)
    return {
      headers: ajv.compile(m.headers()?.json() ?? {}),
      payload: ajv.compile(m.payload()?.json() ?? {}),
      json: { headers: m.headers()?.json(), payload: m.payload()?.json() },
    }
  }
  return {
    binary: {
      'loan.decision': compiled('loanDecisionCloudEventBinary'),
      'notification.requested': compiled('notificationRequestedCloudEventBinary'),
    },
    structured: {
      'loan.decision': compiled('loanDecisionCloudEventStructured'),
      'notification.requested': compiled('notificationRequestedCloudEventStructured'),
    },
  }
}

type Type = 'loan.decision' | 'notification.requested'
const DATA: Record<Type, Record<string, unknown>> = {
  'loan.decision': { borrowerId: 'b-1042', loanId: 'L-77', decision: 'APPROVED' },
  'notification.requested': {
    userId: 'b-1042',
    kind: 'document.requested',
    title: 'Document needed',
    body: '',
  },
}
const TIME = '2026-11-24T10:00:00Z'

interface Case {
  name: string
  id?: string
  time?: string
  data?: Record<string, unknown>
}

// each case in both modes, for both event types
const CASES: Case[] = [
  { name: 'time, no occurredAt', time: TIME },
  { name: 'occurredAt, no time', data: { occurredAt: TIME } },
  { name: 'both (data wins)', time: TIME, data: { occurredAt: '2026-11-24T09:00:00+06:00' } },
  { name: 'neither time nor occurredAt' },
  { name: 'time with lower-case t and z', time: '2026-11-24t10:00:00z' },
  { name: 'time without a zone', time: '2026-11-24T10:00:00' },
  { name: 'time of a day February lacks', time: '2026-02-30T10:00:00Z' },
  {
    name: 'lower-case time though data has occurredAt',
    time: '2026-11-24t10:00:00z',
    data: { occurredAt: TIME },
  },
  { name: 'id of 200 characters', id: 'x'.repeat(200), time: TIME },
  { name: 'id of 201 characters', id: 'x'.repeat(201), time: TIME },
  {
    name: 'id of 201 characters though data has eventId',
    id: 'x'.repeat(201),
    time: TIME,
    data: { eventId: 'e-1' },
  },
]

// What a schema cannot check, the contract states in words (asserted below): ce_time is required when
// the value has no occurredAt, and a timestamp is a real date.
const realDate = (ts: string | undefined) => ts === undefined || !ts.includes('-02-30')

test('binary mode: the decoder accepts exactly what the contract calls valid', async () => {
  const m = await messages()
  for (const type of ['loan.decision', 'notification.requested'] as const) {
    const { headers: headersValid, payload: payloadValid } = m.binary[type]
    for (const c of CASES) {
      const headers: Record<string, string> = {
        ce_specversion: '1.0',
        ce_id: c.id ?? 'e-1',
        ce_source: '//loans.example.com',
        ce_type: type,
        'content-type': 'application/json',
        ...(c.time !== undefined ? { ce_time: c.time } : {}),
      }
      const value = { ...DATA[type], ...c.data }
      const contract =
        headersValid(headers) &&
        payloadValid(value) &&
        (c.time !== undefined || value.occurredAt !== undefined) &&
        realDate(c.time)
      const decoded = decodeEvent({ value: Buffer.from(JSON.stringify(value)), headers }, type, 65536)
      assert.equal(
        decoded.ok,
        contract,
        `${type}, binary, ${c.name}: contract ${contract ? 'valid' : 'invalid'}, decoder ${decoded.ok ? 'accepts' : `refuses (${decoded.message})`}`,
      )
    }
  }
})

test('structured mode: the decoder accepts exactly what the contract calls valid', async () => {
  const m = await messages()
  for (const type of ['loan.decision', 'notification.requested'] as const) {
    const { payload: envelopeValid } = m.structured[type]
    for (const c of CASES) {
      const envelope = {
        specversion: '1.0',
        id: c.id ?? 'e-1',
        source: '//loans.example.com',
        type,
        ...(c.time !== undefined ? { time: c.time } : {}),
        data: { ...DATA[type], ...c.data },
      }
      const contract = envelopeValid(envelope) && realDate(c.time)
      const decoded = decodeEvent(
        {
          value: Buffer.from(JSON.stringify(envelope)),
          headers: { 'content-type': 'application/cloudevents+json' },
        },
        type,
        65536,
      )
      assert.equal(
        decoded.ok,
        contract,
        `${type}, structured, ${c.name}: contract ${contract ? 'valid' : 'invalid'}, decoder ${decoded.ok ? 'accepts' : `refuses (${decoded.message})`}`,
      )
    }
  }
})

test('the rules a schema cannot check are stated, and the timestamp pattern is the contracts package one', async () => {
  const m = await messages()
  const pattern = Timestamp.pattern as string
  const binaryHeaders = m.binary['loan.decision'].json.headers as {
    description: string
    properties: Record<string, { pattern?: string; maxLength?: number; description?: string }>
  }
  assert.equal(binaryHeaders.properties.ce_time?.pattern, pattern)
  assert.equal(binaryHeaders.properties.ce_id?.maxLength, 200)
  assert.match(binaryHeaders.description, /ce_time is required when the value has no occurredAt/)
  assert.match(binaryHeaders.properties.ce_time?.description ?? '', /real\s+date/)
  for (const type of ['loan.decision', 'notification.requested'] as const) {
    const envelope = m.structured[type].json.payload as {
      properties: Record<string, { pattern?: string; maxLength?: number; description?: string }>
    }
    assert.equal(envelope.properties.time?.pattern, pattern)
    assert.equal(envelope.properties.id?.maxLength, 200)
    const data = m.binary[type].json.payload as { description: string }
    assert.match(data.description, /occurredAt is required when the CloudEvent has no time/)
  }
})
