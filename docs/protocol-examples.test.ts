// Every JSON example in protocol.md (the ```json blocks and the inline `{...}` spans that are JSON)
// matches the generated JSON Schema files, so the prose cannot drift from the contracts. An example of a
// shape this test does not know fails it: classify the new shape here.
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { test } from 'node:test'
import { Ajv, type ValidateFunction } from 'ajv'

const markdown = readFileSync(new URL('./protocol.md', import.meta.url), 'utf8')
// required-in-oneOf (notifications.requested) is legal JSON Schema; Ajv's strict mode dislikes it
const ajv = new Ajv({ strict: true, strictRequired: false, allErrors: true })
const schemas = new Map<string, ValidateFunction>()
function schema(file: string): ValidateFunction {
  let v = schemas.get(file)
  if (!v) {
    v = ajv.compile(JSON.parse(readFileSync(new URL(`./schemas/${file}`, import.meta.url), 'utf8')))
    schemas.set(file, v)
  }
  return v
}

const FRAME_FILES: Record<string, string> = {
  welcome: 'welcome-frame.json',
  missed: 'missed-frame.json',
  notification: 'notification-frame.json',
  broadcast: 'broadcast-frame.json',
  subscribed: 'subscribed-frame.json',
  unsubscribed: 'subscribed-frame.json',
  reauth: 'reauth-frame.json',
  authenticated: 'authenticated-frame.json',
  pong: 'pong-frame.json',
  error: 'error-frame.json',
  reconnect: 'reconnect-frame.json',
  close: 'sse-close-frame.json',
  ack: 'ack-frame.json',
  subscribe: 'topic-frame.json',
  unsubscribe: 'topic-frame.json',
  auth: 'auth-frame.json',
  ping: 'ping-frame.json',
}
const CLOUDEVENT_DATA: Record<string, string> = {
  'loan.decision': 'loan-decision-cloudevent-data.json',
  'notification.requested': 'notification-requested-cloudevent-data.json',
}

type Example = Record<string, unknown>
/** Which schema file an example is an instance of (and the part of it that is). */
function classify(ex: Example): { file: string; value: unknown } {
  if (typeof ex.type === 'string' && !('specversion' in ex)) {
    const file = FRAME_FILES[ex.type]
    assert.ok(file, `unknown frame type ${ex.type}`)
    return { file, value: ex }
  }
  if (ex.specversion === '1.0') {
    const file = CLOUDEVENT_DATA[String(ex.type)]
    assert.ok(file, `unknown CloudEvents type ${String(ex.type)}`)
    return { file, value: ex.data }
  }
  if ('notificationId' in ex) return { file: 'push-request.json', value: ex }
  if ('borrowerId' in ex) return { file: 'loan-decision-event.json', value: ex }
  if ('kind' in ex && ('userId' in ex || 'topic' in ex)) {
    // without eventId it is a binary-mode CloudEvent's value (ce_id / ce_time fill in)
    return {
      file:
        'eventId' in ex ? 'notification-requested-event.json' : 'notification-requested-cloudevent-data.json',
      value: ex,
    }
  }
  if ('notifications' in ex) return { file: 'inbox-response.json', value: ex }
  if ('seq' in ex) return { file: 'inbox-ack-request.json', value: ex }
  if ('statusCode' in ex) return { file: 'http-error.json', value: ex }
  if ('online' in ex) return { file: 'presence-response.json', value: ex }
  if ('status' in ex && Object.keys(ex).length === 1) return { file: 'health-response.json', value: ex }
  assert.fail(`protocol.md has an example of an unknown shape: ${JSON.stringify(ex)}`)
}

function examples(): Example[] {
  const found: Example[] = []
  for (const m of markdown.matchAll(/```json\n([\s\S]*?)```/g)) found.push(JSON.parse(m[1] ?? '') as Example)
  // inline spans (also SSE `data: {…}`): templates with placeholders ({"seq":N}, "…", "<T>") are prose, not JSON, and are skipped
  for (const m of markdown.matchAll(/`(?:data: )?(\{[^`]*\})`/g)) {
    if (/"<[^"]*>"/.test(m[1] ?? '')) continue
    try {
      const v = JSON.parse(m[1] ?? '') as unknown
      if (v && typeof v === 'object' && !Array.isArray(v) && Object.keys(v).length > 0)
        found.push(v as Example)
    } catch {}
  }
  return found
}

test('every JSON example in docs/protocol.md matches the JSON Schema files', () => {
  const all = examples()
  const counts = new Map<string, number>()
  for (const ex of all) {
    const c = classify(ex)
    const check = schema(c.file)
    assert.ok(check(c.value), `${c.file}: ${JSON.stringify(ex)}: ${ajv.errorsText(check.errors)}`)
    counts.set(c.file, (counts.get(c.file) ?? 0) + 1)
  }
  // the extraction itself works: the document's examples cover every frame and both Kafka events
  for (const file of new Set(Object.values(FRAME_FILES))) assert.ok(counts.get(file), `an example of ${file}`)
  assert.ok(counts.get('loan-decision-event.json'))
  assert.ok(counts.get('notification-requested-event.json'))
  assert.ok(counts.get('inbox-response.json'))
  assert.ok(counts.get('http-error.json'))
  assert.ok(all.length >= 35, `found ${all.length} examples`)
})

test('a wrong example would be caught', () => {
  const c = classify({
    type: 'notification',
    seq: 0,
    id: 'x',
    kind: 'k',
    createdAt: 'yesterday',
    title: '',
    body: '',
    data: {},
  })
  assert.equal(schema(c.file)(c.value), false)
})
