// Why WebSocket upgrades keep failing. The gateway refuses an upgrade with an HTTP status (401 revoked
// or expired token, 429, 503: docs/protocol.md §3.2), which WebSocket APIs report only as close 1006.
// So after PROBE_AFTER_FAILURES failed upgrades in a row while online, the client asks
// `GET /v1/inbox?limit=1` with the same token: the HTTP routes run the same checks and say which one
// failed, and the close code with that meaning then drives the reconnect (4003 revoked → stop).
import type { Clock, TimerHandle } from './clock.ts'
import type { NetworkMonitor } from './network.ts'
import { type FetchLike, refusalCode, statusToCloseCode } from './sse.ts'
import type { CloseInfo, TransportKind } from './transport.ts'

export const PROBE_AFTER_FAILURES = 3
export const PROBE_PATH = '/v1/inbox?limit=1'

export interface UpgradeProbe {
  /**
   * A `kind` connection ended with `info`. When it was the PROBE_AFTER_FAILURES-th failed upgrade in
   * a row, resolves with `info` carrying the close code the gateway's refusal stands for (`info`
   * itself when the probe learns nothing); otherwise undefined: nothing to ask.
   */
  examine(
    info: CloseInfo,
    kind: TransportKind,
    httpBase: string,
    token: string | undefined,
  ): Promise<CloseInfo> | undefined
  /** The client stopped: a probe in flight is abandoned (its request aborted, its timer cleared). */
  cancel(): void
}

export function createUpgradeProbe(
  fetchFn: FetchLike | undefined,
  network: NetworkMonitor | undefined,
  clock: Clock,
  timeoutMs: number,
): UpgradeProbe {
  let failures = 0
  /** Ends the probe in flight, if any. */
  let inFlight: (() => void) | undefined

  /** The refusal's status and `TDG_ERR_*` code, or undefined (accepted, another status, no answer). */
  const ask = async (
    fetch: FetchLike,
    url: string,
    token: string,
    abort: AbortController | undefined,
  ): Promise<Partial<CloseInfo> | undefined> => {
    const headers = { authorization: `Bearer ${token}` }
    const res = await fetch(url, abort ? { headers, signal: abort.signal } : { headers })
    // 200: the token is good, something else refuses the upgrade (a proxy); the SSE fallback is for that
    if (res.status !== 401 && res.status !== 429 && res.status !== 503) return undefined
    const code = await refusalCode(res)
    return { code: statusToCloseCode(res.status, code), reason: `HTTP ${res.status} ${code ?? ''}`.trim() }
  }

  return {
    examine(info, kind, httpBase, token) {
      if (kind !== 'websocket') return undefined // SSE over fetch() sees the statuses itself
      if (info.opened) failures = 0
      else if (info.code === 1006 && network?.isOnline() !== false) failures++
      if (failures < PROBE_AFTER_FAILURES || !fetchFn || !token) return undefined
      failures = 0
      const abort = typeof AbortController === 'function' ? new AbortController() : undefined
      let timer: TimerHandle | undefined
      const timeout = new Promise<undefined>((resolve) => {
        timer = clock.setTimeout(() => resolve(undefined), timeoutMs)
        inFlight = () => resolve(undefined)
      })
      const settle = (found: Partial<CloseInfo> | undefined): CloseInfo => {
        if (timer !== undefined) clock.clearTimeout(timer)
        inFlight = undefined
        abort?.abort() // a probe still waiting (timed out) is no use any more
        return found ? { ...info, ...found } : info
      }
      return Promise.race([ask(fetchFn, httpBase + PROBE_PATH, token, abort), timeout]).then(settle, () =>
        settle(undefined),
      )
    },
    cancel() {
      inFlight?.()
    },
  }
}
