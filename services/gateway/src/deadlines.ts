/**
 * Token deadlines of all sessions of a pod on one 1-second wheel, instead of a timer per
 * socket: a Timeout object per socket costs memory, and a second of slack is fine for a
 * `reauth` warning and a 30-second expiry grace.
 */
export interface Deadlined {
  nextDeadline(): number
  onDeadline(now: number): void
}

export interface DeadlineWheel {
  schedule(s: Deadlined): void
  cancel(s: Deadlined): void
  stop(): void
  /** Runs the due deadlines now (the interval calls it; tests call it with a fake clock). */
  tick(): void
}

export function createDeadlineWheel(tickMs = 1000, now: () => number = Date.now): DeadlineWheel {
  const buckets = new Map<number, Set<Deadlined>>()
  const slotOf = new WeakMap<Deadlined, number>()

  const cancel = (s: Deadlined) => {
    const at = slotOf.get(s)
    if (at === undefined) return
    slotOf.delete(s)
    const b = buckets.get(at)
    b?.delete(s)
    if (b?.size === 0) buckets.delete(at)
  }

  // Slot k is processed once now >= k * tickMs, and a deadline d goes to slot ceil(d / tickMs),
  // so nothing fires early. `last` moves before the callbacks run, so a session that
  // reschedules itself from onDeadline lands in a later slot, never in the one being emptied.
  let last = Math.floor(now() / tickMs)
  const tick = () => {
    const t = now()
    const current = Math.floor(t / tickMs)
    while (last < current) {
      last++
      const due = buckets.get(last)
      if (!due) continue
      buckets.delete(last)
      for (const s of due) {
        slotOf.delete(s)
        s.onDeadline(t)
      }
    }
  }
  const timer = setInterval(tick, tickMs)
  timer.unref()

  return {
    schedule(s) {
      cancel(s)
      const at = Math.max(Math.ceil(s.nextDeadline() / tickMs), last + 1)
      let b = buckets.get(at)
      if (!b) {
        b = new Set()
        buckets.set(at, b)
      }
      b.add(s)
      slotOf.set(s, at)
    },
    cancel,
    stop: () => clearInterval(timer),
    tick,
  }
}
