import assert from 'node:assert/strict'
import { test } from 'node:test'
import { browserNetwork, type NetInfoLike, netInfoNetwork } from './network.ts'

test('browserNetwork: window online/offline events and navigator.onLine; none outside browsers', () => {
  const target = new EventTarget() as EventTarget & { navigator: { onLine: boolean } }
  target.navigator = { onLine: false }
  const monitor = browserNetwork(target)
  assert.ok(monitor)
  assert.equal(monitor.isOnline(), false)
  const seen: boolean[] = []
  const stop = monitor.subscribe((o) => seen.push(o))
  target.dispatchEvent(new Event('online'))
  target.dispatchEvent(new Event('offline'))
  stop()
  target.dispatchEvent(new Event('online'))
  assert.deepEqual(seen, [true, false])
  assert.equal(browserNetwork({}), undefined)
  assert.equal(browserNetwork(globalThis), undefined, 'Node has no window events')
})

test('netInfoNetwork: changes only, online = connected and not known unreachable', () => {
  let emit: Parameters<NetInfoLike['addEventListener']>[0] = () => undefined
  let removed = 0
  const netInfo: NetInfoLike = {
    addEventListener: (l) => {
      emit = l
      return () => removed++
    },
  }
  const monitor = netInfoNetwork(netInfo)
  const seen: boolean[] = []
  const stop = monitor.subscribe((o) => seen.push(o))
  emit({ isConnected: null })
  assert.equal(monitor.isOnline(), undefined)
  emit({ isConnected: true, isInternetReachable: true }) // the initial state: not a change
  emit({ isConnected: true, isInternetReachable: null })
  emit({ isConnected: true, isInternetReachable: false })
  emit({ isConnected: false })
  emit({ isConnected: true, isInternetReachable: true })
  assert.deepEqual(seen, [false, true])
  assert.equal(monitor.isOnline(), true)
  stop()
  assert.equal(removed, 1)
})
