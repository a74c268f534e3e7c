// The chaos run's book: every event produced (user, its n-th event for that user, when), every
// notification an app was shown through the SDK, every raw notification frame on the wire, and the
// faults. From it: lost, shown twice, out of order, raw duplicates, and the time to recover per fault.

export interface Fault {
  name: string
  at: number
}

export interface FaultReport extends Fault {
  /** ms from the fault until events are delivered promptly again (see recoveryMs). */
  recoveredAfterMs: number | null
}

export interface LedgerReport {
  users: number
  produced: number
  shown: number
  lost: number
  shownTwice: number
  outOfOrder: number
  rawFrames: number
  rawDuplicates: number
  missedSignals: number
  latencyMs: { p50: number; p99: number; max: number }
  faults: FaultReport[]
  /** A few examples of what went wrong, for a failure message. */
  examples: string[]
}

interface Produced {
  user: string
  n: number
  /** when the producer first tried to send it */
  at: number
}

// "Delivered promptly again": every event produced during a whole second after T reached its app
// within this long. Normal produce → app latency here is a few ms to a few hundred.
const PROMPT_MS = 1000
const WINDOW_MS = 1000

export class Ledger {
  private readonly produced = new Map<string, Produced>()
  private readonly shownAt = new Map<string, number>()
  private readonly lastShown = new Map<string, number>()
  private shownTwice = 0
  private outOfOrder = 0
  private rawFrames = 0
  private missedSignals = 0
  private readonly faults: Fault[] = []
  private readonly examples: string[] = []

  private key = (user: string, n: number) => `${user}#${n}`

  noteProduced(user: string, n: number, at: number): void {
    this.produced.set(this.key(user, n), { user, n, at })
  }

  /** The SDK handed notification `n` of `user` to the app. */
  noteShown(user: string, n: number, at: number): void {
    const k = this.key(user, n)
    if (this.shownAt.has(k)) {
      this.shownTwice++
      this.example(`${k} shown twice`)
      return
    }
    this.shownAt.set(k, at)
    const last = this.lastShown.get(user) ?? 0
    if (n < last) {
      this.outOfOrder++
      this.example(`${user}: ${n} shown after ${last}`)
    } else this.lastShown.set(user, n)
  }

  noteRawFrame(): void {
    this.rawFrames++
  }

  noteMissed(user: string): void {
    this.missedSignals++
    this.example(`${user}: missed`)
  }

  noteFault(name: string, at: number): void {
    this.faults.push({ name, at })
  }

  get shownCount(): number {
    return this.shownAt.size
  }

  get producedCount(): number {
    return this.produced.size
  }

  report(users: number): LedgerReport {
    const latencies: number[] = []
    let lost = 0
    for (const [k, p] of this.produced) {
      const shown = this.shownAt.get(k)
      if (shown === undefined) {
        lost++
        this.example(`${k} lost (produced at +${p.at})`)
      } else latencies.push(shown - p.at)
    }
    latencies.sort((a, b) => a - b)
    const q = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] ?? 0
    return {
      users,
      produced: this.produced.size,
      shown: this.shownAt.size,
      lost,
      shownTwice: this.shownTwice,
      outOfOrder: this.outOfOrder,
      rawFrames: this.rawFrames,
      rawDuplicates: this.rawFrames - this.shownAt.size,
      missedSignals: this.missedSignals,
      latencyMs: { p50: q(0.5), p99: q(0.99), max: latencies.at(-1) ?? 0 },
      faults: this.faults.map((f) => ({ ...f, recoveredAfterMs: this.recoveryMs(f.at) })),
      examples: this.examples.slice(0, 20),
    }
  }

  /**
   * The first moment T after the fault such that every event produced in [T, T + 1 s) was shown
   * within 1 s of being produced — deliveries are prompt again — as ms after the fault.
   */
  private recoveryMs(faultAt: number): number | null {
    const after = [...this.produced.entries()]
      .filter(([, p]) => p.at >= faultAt)
      .sort((a, b) => a[1].at - b[1].at)
    const prompt = after.map(([k, p]) => {
      const shown = this.shownAt.get(k)
      return shown !== undefined && shown - p.at <= PROMPT_MS
    })
    // j: the first event at or after T + WINDOW; everything in [i, j) must be prompt
    let bad = 0
    let j = 0
    for (let i = 0; i < after.length; i++) {
      const start = after[i]![1].at
      while (j < after.length && after[j]![1].at < start + WINDOW_MS) {
        if (!prompt[j]) bad++
        j++
      }
      if (j === after.length && after[j - 1]![1].at < start + WINDOW_MS) return null // window not complete
      if (bad === 0) return start - faultAt
      if (!prompt[i]) bad--
    }
    return null
  }

  private example(text: string): void {
    if (this.examples.length < 20) this.examples.push(text)
  }
}
