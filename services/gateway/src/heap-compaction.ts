import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'

/** How long the sessions must be quiet (none opened or closed) before the burst counts as over. */
export const COMPACTION_QUIET_MS = 2000

/**
 * After a burst of sessions opened or closed (a reconnect storm, a drain elsewhere), once it has been
 * quiet for COMPACTION_QUIET_MS: one full GC, so that V8 gives back the memory the burst left (issue 11).
 *
 * Why the gateway does this itself: a connect storm promotes short-lived objects (handshakes, Redis
 * commands waiting for their replies) to old space; once they die, their pages stay in the process
 * (pooled by V8, or fragmented), ~3–4 KiB per socket at 18,000 sockets. V8's memory reducer returns
 * them by itself once the process is idle, but it judges "idle" from the allocation rate measured at
 * the last full GC: with no full GC after the storm it keeps seeing the storm's rate and never runs,
 * and a quiet pod holds that memory for hours (seen with --trace-memory-reducer). One full GC once the
 * storm is over — a pause of ~6 ms per 1,000 open sockets — lets the reducer run its own incremental,
 * memory-reducing GCs a few seconds later. Sustained churn never goes quiet and never triggers it.
 *
 * One timer for the pod, and one clock read per session opened or closed past the threshold: nothing
 * allocated per session. (Not `timeout.refresh()`: node:test's mock timers do not re-arm on it.)
 */
export class HeapCompaction {
  readonly #afterSessions: number
  readonly #gc: () => void
  readonly #onCompacted: (pauseMs: number, sessions: number) => void
  #churn = 0
  /** Date.now() of the last session opened or closed past the threshold. */
  #lastChurnAt = 0
  #timer: NodeJS.Timeout | undefined
  #stopped = false

  constructor(opts: {
    /** Sessions opened or closed since the last compaction that make a burst (≥ 1). */
    afterSessions: number
    /** A full, synchronous GC (`fullGc()`; tests pass a spy). */
    gc: () => void
    onCompacted: (pauseMs: number, sessions: number) => void
  }) {
    if (!Number.isSafeInteger(opts.afterSessions) || opts.afterSessions < 1) {
      throw new RangeError(`afterSessions must be a positive integer, got ${opts.afterSessions}`)
    }
    this.#afterSessions = opts.afterSessions
    this.#gc = opts.gc
    this.#onCompacted = opts.onCompacted
  }

  /** A session opened or closed. */
  churn(): void {
    if (++this.#churn < this.#afterSessions || this.#stopped) return
    this.#lastChurnAt = Date.now()
    if (!this.#timer) this.#wait(COMPACTION_QUIET_MS)
  }

  stop(): void {
    this.#stopped = true
    clearTimeout(this.#timer)
  }

  #wait(ms: number): void {
    this.#timer = setTimeout(() => this.#quietYet(), ms)
    this.#timer.unref()
  }

  #quietYet(): void {
    const quietFor = Date.now() - this.#lastChurnAt
    if (quietFor < COMPACTION_QUIET_MS) {
      this.#wait(COMPACTION_QUIET_MS - quietFor)
      return
    }
    this.#timer = undefined
    const sessions = this.#churn
    this.#churn = 0
    const start = performance.now()
    this.#gc()
    this.#onCompacted(performance.now() - start, sessions)
  }
}

/**
 * V8's `gc()`: the global one when node runs with --expose-gc, else the same function taken from a
 * new context once the flag is set (V8 installs it in contexts created after that; the main context
 * gets no `gc` global). Node has no other way to ask for a full GC.
 */
export function fullGc(): () => void {
  const global = globalThis as { gc?: () => void }
  if (typeof global.gc === 'function') return global.gc
  setFlagsFromString('--expose-gc')
  return runInNewContext('gc') as () => void
}
