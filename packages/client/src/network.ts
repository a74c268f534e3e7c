// Online/offline signals from the platform, so the client reconnects the moment the network returns
// instead of waiting out a backoff that may have grown to minutes, and does not count attempts made
// while offline against `maxRetries`.

/** A source of online/offline changes. */
export interface NetworkMonitor {
  /** Whether the device is online now; `undefined` when unknown (treated as online). */
  isOnline(): boolean | undefined
  /** Calls `listener(true)` when the network returns and `listener(false)` when it goes; returns the unsubscribe. */
  subscribe(listener: (online: boolean) => void): () => void
}

/** The part of `window` / `navigator` a browser monitor uses. */
export interface BrowserNetworkTarget {
  addEventListener(type: 'online' | 'offline', listener: () => void): void
  removeEventListener(type: 'online' | 'offline', listener: () => void): void
  navigator?: { onLine?: boolean }
}

/**
 * The browser's `online` / `offline` events and `navigator.onLine`. Returns undefined where there are
 * none (Node, React Native: use `netInfoNetwork`), which is the client's default.
 */
export function browserNetwork(target: unknown = globalThis): NetworkMonitor | undefined {
  const t = target as Partial<BrowserNetworkTarget>
  if (typeof t.addEventListener !== 'function' || typeof t.removeEventListener !== 'function')
    return undefined
  const w = t as BrowserNetworkTarget
  return {
    isOnline: () => (typeof w.navigator?.onLine === 'boolean' ? w.navigator.onLine : undefined),
    subscribe(listener) {
      const online = () => listener(true)
      const offline = () => listener(false)
      w.addEventListener('online', online)
      w.addEventListener('offline', offline)
      return () => {
        w.removeEventListener('online', online)
        w.removeEventListener('offline', offline)
      }
    },
  }
}

/** What `@react-native-community/netinfo`'s default export offers (its `addEventListener`). */
export interface NetInfoLike {
  addEventListener(
    listener: (state: { isConnected: boolean | null; isInternetReachable?: boolean | null }) => void,
  ): () => void
}

/**
 * React Native: `netInfoNetwork(NetInfo)` with `@react-native-community/netinfo`. Online = connected
 * and the internet not known to be unreachable; only changes are passed on.
 */
export function netInfoNetwork(netInfo: NetInfoLike): NetworkMonitor {
  let current: boolean | undefined
  const listeners = new Set<(online: boolean) => void>()
  let unsubscribe: (() => void) | undefined
  const onState = (s: { isConnected: boolean | null; isInternetReachable?: boolean | null }) => {
    if (s.isConnected === null) return // not determined yet
    const online = s.isConnected && s.isInternetReachable !== false
    if (online === current) return
    const first = current === undefined
    current = online
    if (!first) for (const l of [...listeners]) l(online)
  }
  return {
    isOnline: () => current,
    subscribe(listener) {
      listeners.add(listener)
      unsubscribe ??= netInfo.addEventListener(onState)
      return () => {
        listeners.delete(listener)
        if (listeners.size === 0) {
          unsubscribe?.()
          unsubscribe = undefined
        }
      }
    },
  }
}
