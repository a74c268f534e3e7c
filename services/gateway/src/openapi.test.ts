// The OpenAPI document @fastify/swagger generates from the route schemas is valid OpenAPI 3.1 (checked
// with @readme/openapi-parser), describes exactly the HTTP routes, and the same schemas validate requests.
import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { compileErrors, validate } from '@readme/openapi-parser'
import { signUserToken } from '@tidings/test/support/tokens'
import { openApiDocument } from './openapi.ts'
import { startTestGateway, type TestGateway } from './testing/test-gateway.ts'

let gw: TestGateway
before(async () => {
  gw = await startTestGateway({ SERVICE_TOKENS: 'svc-token-0123456789abcdefghijkl' })
})
after(() => gw?.stop())

type Doc = { openapi: string; paths: Record<string, Record<string, Record<string, unknown>>> }

test('the generated document is valid OpenAPI 3.1 and covers the HTTP routes, not /v1/ws or /v1/sse', async () => {
  const doc = openApiDocument(gw.gateway.app) as Doc
  const result = await validate(structuredClone(doc) as unknown as Parameters<typeof validate>[0])
  assert.ok(result.valid, compileErrors(result))
  assert.equal(doc.openapi, '3.1.0')
  assert.deepEqual(Object.keys(doc.paths).sort(), [
    '/healthz',
    '/readyz',
    '/v1/inbox',
    '/v1/inbox/ack',
    '/v1/presence/{userId}',
  ])
  const inbox = doc.paths['/v1/inbox']?.get as {
    responses: Record<string, { content: Record<string, { schema: { properties: object } }> }>
  }
  assert.deepEqual(
    Object.keys(inbox.responses['200']!.content['application/json']!.schema.properties).sort(),
    ['epoch', 'missed', 'nextAfterSeq', 'notifications'],
  )
  const ack = doc.paths['/v1/inbox/ack']?.post as {
    requestBody: { content: Record<string, { schema: { required: string[] } }> }
  }
  assert.deepEqual(ack.requestBody.content['application/json']!.schema.required, ['seq'])
  assert.deepEqual(doc.paths['/v1/presence/{userId}']?.get?.security, [{ serviceToken: [] }])
})

test('the schemas in the document are the validation: a body the schema refuses gets 400 TDG_ERR_BAD_REQUEST', async () => {
  const token = await signUserToken('openapi-user')
  const post = (body: unknown) =>
    fetch(`${gw.url}/v1/inbox/ack`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    })
  const bad = await post({ seq: -1 })
  assert.equal(bad.status, 400)
  assert.equal(((await bad.json()) as { code: string }).code, 'TDG_ERR_BAD_REQUEST')
  const good = await post({ seq: 0 })
  assert.equal(good.status, 204)
  // the response schema serializes the inbox reply: same body as before
  const inbox = await fetch(`${gw.url}/v1/inbox`, { headers: { authorization: `Bearer ${token}` } })
  assert.equal(inbox.status, 200)
  const body = (await inbox.json()) as { epoch: string; notifications: unknown[] }
  assert.equal(typeof body.epoch, 'string')
  assert.deepEqual(body.notifications, [])
})
