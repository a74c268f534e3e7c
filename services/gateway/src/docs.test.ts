// Every error code and close the gateway can send is documented in docs/protocol.md (after
// Fastify's test that each FST_ERR_* is in its Errors reference). Adding one without its line in
// the protocol fails here.
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { test } from 'node:test'
import { Closes, HANDLER_FAILED } from './close-reasons.ts'
import * as errors from './errors.ts'

const protocol = readFileSync(new URL('../../../docs/protocol.md', import.meta.url), 'utf8')

test('every TDG_ERR_* code of errors.ts is in docs/protocol.md', () => {
  const codes: string[] = []
  for (const value of Object.values(errors)) {
    if (value === errors.httpErrorCode) continue
    const err = new (value as new (...args: string[]) => Error & { code: string })('x')
    codes.push(err.code)
  }
  assert.ok(codes.length >= 18, `found ${codes.length} codes`)
  for (const code of codes) {
    assert.ok(codes.filter((c) => c === code).length === 1, `${code} defined twice`)
    assert.match(protocol, new RegExp(`\\b${code}\\b`), `${code} is not in docs/protocol.md`)
  }
  assert.ok(protocol.includes('`TDG_ERR_HTTP_<status>`'), 'TDG_ERR_HTTP_<status> is not in docs/protocol.md')
})

test('every close the gateway sends has its code and reason in the close-code table', () => {
  const rows = new Map<number, string>()
  for (const line of protocol.split('\n')) {
    const m = /^\| (\d{4}) \|(.*)$/.exec(line)
    if (m) rows.set(Number(m[1]), m[2]!)
  }
  for (const close of [...Object.values(Closes), HANDLER_FAILED]) {
    const row = rows.get(close.code)
    assert.ok(row, `close code ${close.code} has no row in docs/protocol.md §9.3`)
    assert.ok(row.includes(`\`${close.reason}\``), `${close.code} \`${close.reason}\` is not in its row`)
  }
})
