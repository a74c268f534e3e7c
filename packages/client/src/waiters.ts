// The connect() calls waiting for the next `welcome`: resolved together when a session opens,
// rejected together when the client stops.
export interface Waiters {
  /** A promise for the next `welcome`. */
  wait(): Promise<void>
  resolveAll(): void
  rejectAll(error: unknown): void
}

export function createWaiters(): Waiters {
  let waiting: Array<{ resolve: () => void; reject: (e: unknown) => void }> = []
  const take = () => {
    const taken = waiting
    waiting = []
    return taken
  }
  return {
    wait() {
      const p = new Promise<void>((resolve, reject) => waiting.push({ resolve, reject }))
      // Fire-and-forget callers must not get an unhandled rejection; awaiting callers still see it.
      p.catch(() => undefined)
      return p
    },
    resolveAll() {
      for (const w of take()) w.resolve()
    },
    rejectAll(error) {
      for (const w of take()) w.reject(error)
    },
  }
}
