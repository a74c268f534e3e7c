import assert from 'node:assert/strict'
import { test } from 'node:test'
import { endpoints, query } from './url.ts'

test('derives the WebSocket and HTTP bases from one URL', () => {
  assert.deepEqual(endpoints('wss://gw.example.com'), {
    ws: 'wss://gw.example.com',
    http: 'https://gw.example.com',
  })
  assert.deepEqual(endpoints('https://gw.example.com/tidings/'), {
    ws: 'wss://gw.example.com/tidings',
    http: 'https://gw.example.com/tidings',
  })
  assert.deepEqual(endpoints('ws://127.0.0.1:8080/v1/ws'), {
    ws: 'ws://127.0.0.1:8080',
    http: 'http://127.0.0.1:8080',
  })
  for (const bad of ['gw.example.com', 'ftp://x', 'wss://x?a=1', '/relative'])
    assert.throws(() => endpoints(bad), TypeError)
})

test('query skips undefined values and encodes the rest', () => {
  assert.equal(query({}), '')
  assert.equal(query({ lastSeq: 3, epoch: 'a b&c', x: undefined }), '?lastSeq=3&epoch=a%20b%26c')
})
