// The AsyncAPI document is valid AsyncAPI 3.0 for the official parser, its external $refs resolve to the
// generated JSON Schema files, every example in it matches its message's schemas, and the dead-letter
// reason codes it lists are exactly the dispatcher's.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { DiagnosticSeverity, fromFile, Parser } from '@asyncapi/parser'
import { Ajv } from 'ajv'
import { DEAD_LETTER_REASON_CODES } from '../services/dispatcher/src/reasons.ts'

const file = fileURLToPath(new URL('./asyncapi.yaml', import.meta.url))

async function parse() {
  const { document, diagnostics } = await fromFile(new Parser(), file).parse()
  const errors = diagnostics.filter((d) => d.severity === DiagnosticSeverity.Error)
  assert.deepEqual(
    errors.map((d) => `${d.path.join('.')}: ${d.message}`),
    [],
    'the parser reports no errors',
  )
  assert.ok(document, 'the parser returned a document')
  return document
}

test('docs/asyncapi.yaml is a valid AsyncAPI 3.0 document, with the channels and messages of the protocol', async () => {
  const doc = await parse()
  assert.equal(doc.version(), '3.0.0')
  const addresses = doc
    .channels()
    .all()
    .map((c) => c.address())
    .sort()
  assert.deepEqual(addresses, [
    '/v1/sse',
    '/v1/ws',
    'loan.decisions',
    'notifications.dlq',
    'notifications.requested',
    '{pushTopic}',
  ])
  const ws = doc.channels().get('webSocket')
  assert.ok(ws)
  const frames = ws
    .messages()
    .all()
    .map((m) => m.name())
    .sort()
  assert.deepEqual(frames, [
    'ack',
    'auth',
    'authenticated',
    'broadcast',
    'error',
    'missed',
    'notification',
    'ping',
    'pong',
    'reauth',
    'reconnect',
    'subscribed',
    'topic',
    'welcome',
  ])
  // the external $ref was resolved: the payload is the generated schema, not a pointer
  const payload = doc.components().messages().get('loanDecision')?.payload()?.json() as Record<
    string,
    unknown
  >
  assert.equal(payload.title, 'LoanDecisionEvent')
})

test('every example in the document matches its message payload and headers', async () => {
  const doc = await parse()
  // the parser annotates schemas with x-parser-* keys: not strict about unknown keywords
  const ajv = new Ajv({ strict: false, allErrors: true })
  let checked = 0
  for (const message of doc.components().messages().all()) {
    const examples = message.examples().all()
    assert.ok(examples.length > 0, `${message.id()} has an example`)
    const payload = message.payload()?.json()
    const headers = message.headers()?.json()
    for (const ex of examples) {
      if (payload && ex.hasPayload()) {
        const check = ajv.compile(payload)
        assert.ok(check(ex.payload()), `${message.id()} example payload: ${ajv.errorsText(check.errors)}`)
        checked++
      }
      if (headers && ex.hasHeaders()) {
        const check = ajv.compile(headers)
        assert.ok(check(ex.headers()), `${message.id()} example headers: ${ajv.errorsText(check.errors)}`)
        checked++
      }
    }
  }
  assert.ok(checked >= 25, `checked ${checked} examples`)
})

test("the dead-letter reason codes are exactly the dispatcher's (services/dispatcher/src/reasons.ts)", async () => {
  const doc = await parse()
  const headers = doc.components().schemas().get('deadLetterHeaders')
  const reason = headers?.properties()?.['tidings-error']
  assert.deepEqual([...(reason?.enum() ?? [])].sort(), [...DEAD_LETTER_REASON_CODES].sort())
  // and each one is explained
  for (const code of DEAD_LETTER_REASON_CODES)
    assert.match(reason?.description() ?? '', new RegExp(`${code}:`))
})
