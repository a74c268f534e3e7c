import assert from 'node:assert/strict'
import { test } from 'node:test'
import { TidingsError } from './errors.ts'
import { createTokenSource, type TokenReason } from './token.ts'

test('fetch asks getToken with the reason and turns failures into token errors', async () => {
  const asked: TokenReason[] = []
  let answer: unknown = 'jwt'
  const tokens = createTokenSource(({ reason }) => {
    asked.push(reason)
    if (answer instanceof Error) throw answer
    return answer as string
  })
  assert.equal(await tokens.fetch('connect'), 'jwt')
  answer = ''
  await assert.rejects(tokens.fetch('reauth'), (e) => e instanceof TidingsError && e.kind === 'token')
  answer = new Error('idp down')
  await assert.rejects(
    tokens.fetch('rejected'),
    (e) => e instanceof TidingsError && e.kind === 'token' && (e.cause as Error).message === 'idp down',
  )
  assert.deepEqual(asked, ['connect', 'reauth', 'rejected'])
})

test('the reason follows rejections and accepted sessions; a handed-over token is used once', () => {
  const tokens = createTokenSource(() => 'jwt')
  assert.equal(tokens.reason, 'connect')
  tokens.rejected()
  assert.equal(tokens.reason, 'rejected')
  tokens.accepted()
  assert.equal(tokens.reason, 'connect')
  tokens.handOver('fresh')
  assert.equal(tokens.takeHandedOver(), 'fresh')
  assert.equal(tokens.takeHandedOver(), undefined)
})

test('revoke forgets every token and asks for a fresh one next', () => {
  const tokens = createTokenSource(() => 'jwt')
  tokens.current = 'old'
  tokens.handOver('pending')
  tokens.revoke()
  assert.equal(tokens.current, undefined)
  assert.equal(tokens.takeHandedOver(), undefined)
  assert.equal(tokens.reason, 'rejected')
})
