import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'

/** The burst is watched in windows this long. */
export const COMPACTION_WINDOW_MS = 2000
/** At most one compaction this often, whatever the churn: bounds what compactions cost a pod. */
export const COMPACTION_MIN_INTERVAL_MS = 5 * 60_000

/**
 * After a burst of sessions opened or closed (a reconnect storm, a drain elsewhere), once it is over:
 * one full GC, so that V8 gives back the memory the burst left (issue 11).
 *
 * Why the gateway does this itself: a connect storm promotes short-lived objects (handshakes, Redis
 * commands waiting for their replies) to old space; once they die, their pages stay in the process
 * (pooled by V8, or fragmented), ~3–4 KiB per socket at 18,000 sockets. V8's memory reducer returns
 * them by itself once the process is idle, but it judges "idle" from the allocation rate measured at
 * the last full GC: with no full GC after the storm it keeps seeing the storm's rate and never runs,
 * and a quiet pod holds that memory for hours (seen with --trace-memory-reducer). One full GC once the
 * storm is over — a pause of ~5 ms per 1,000 open sockets — lets the reducer run its own incremental,
 * memory-reducing GCs a few seconds later.
 *
 * "Over" is a window of COMPACTION_WINDOW_MS with at most `quietChurn` sessions opened or closed, not
 * none: a pod that took a storm still sees a trickle (SSE streams renewed, phones coming and going).
 * Counted with timers only, never the wall clock (an NTP step must not postpone it by the step).
 * Nothing is allocated per session: two counters and, while a burst is watched, one timer.
 */
export class HeapCompaction {
  readonly #afterSessions: number
  /** A window with at most this many sessions opened or closed ends the burst. */
  readonly #quietChurn: number
  readonly #gc: () => void
  readonly #onCompacted: (pauseMs: number, sessions: number) => void
  /** Sessions opened or closed since the last compaction. */
  #churn = 0
  /** …since the current window began. */
  #windowChurn = 0
  /** The window being watched, or the rest after a compaction. */
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
    this.#quietChurn = Math.max(5, Math.floor(opts.afterSessions / 100))
    this.#gc = opts.gc
    this.#onCompacted = opts.onCompacted
  }

  /** A session opened or closed. */
  churn(): void {
    this.#churn++
    this.#windowChurn++
    if (this.#timer === undefined && this.#churn >= this.#afterSessions && !this.#stopped) this.#watch()
  }

  stop(): void {
    this.#stopped = true
    clearTimeout(this.#timer)
  }

  #watch(): void {
    this.#windowChurn = 0
    this.#timer = setTimeout(() => this.#windowEnded(), COMPACTION_WINDOW_MS)
    this.#timer.unref()
  }

  #windowEnded(): void {
    if (this.#windowChurn > this.#quietChurn) {
      this.#watch() // still a burst
      return
    }
    const sessions = this.#churn
    this.#churn = 0
    const start = performance.now()
    this.#gc()
    this.#onCompacted(performance.now() - start, sessions)
    this.#timer = setTimeout(() => this.#rested(), COMPACTION_MIN_INTERVAL_MS)
    this.#timer.unref()
  }

  #rested(): void {
    this.#timer = undefined
    if (this.#churn >= this.#afterSessions && !this.#stopped) this.#watch()
  }
}

/**
 * V8's `gc()`: the global one when node runs with --expose-gc, else the same function taken from a
 * new context once the flag is set (V8 installs it in contexts created after that; the main context
 * gets no `gc` global). Node has no other way to ask for a full GC. Undefined when node runs with
 * --freeze-flags-after-init without --expose-gc: setting a flag then aborts the process.
 */
export function fullGc(execArgv: readonly string[] = process.execArgv): (() => void) | undefined {
  const global = globalThis as { gc?: () => void }
  if (typeof global.gc === 'function') return global.gc
  if (execArgv.some((a) => /^--freeze[-_]flags[-_]after[-_]init$/.test(a))) return undefined
  setFlagsFromString('--expose-gc')
  return runInNewContext('gc') as () => void
}
