export type Listener<T> = (payload: T) => unknown

/**
 * A tiny typed emitter. `emit` calls every listener, hands a throwing listener's error to
 * `onListenerError`, and returns a promise only when some listener returned a thenable (so the
 * caller can wait for async handlers without paying for it otherwise).
 */
export class Emitter<Events extends object> {
  private readonly listeners = new Map<keyof Events, Set<Listener<never>>>()
  private readonly onListenerError: (error: unknown, event: keyof Events) => void

  constructor(onListenerError: (error: unknown, event: keyof Events) => void) {
    this.onListenerError = onListenerError
  }

  on<K extends keyof Events>(event: K, fn: Listener<Events[K]>): () => void {
    let set = this.listeners.get(event)
    if (!set) {
      set = new Set()
      this.listeners.set(event, set)
    }
    // Wrap so the same function can be added twice and removed independently.
    const entry: Listener<Events[K]> = (p) => fn(p)
    set.add(entry)
    return () => {
      set.delete(entry)
    }
  }

  listenerCount(event: keyof Events): number {
    return this.listeners.get(event)?.size ?? 0
  }

  emit<K extends keyof Events>(event: K, payload: Events[K]): Promise<void> | undefined {
    const set = this.listeners.get(event)
    if (!set || set.size === 0) return undefined
    let pending: Promise<void>[] | undefined
    for (const fn of [...set] as Listener<Events[K]>[]) {
      try {
        const r = fn(payload)
        if (r !== null && typeof r === 'object' && typeof (r as PromiseLike<unknown>).then === 'function') {
          pending ??= []
          pending.push(
            Promise.resolve(r as PromiseLike<unknown>).then(
              () => undefined,
              (e: unknown) => this.onListenerError(e, event),
            ),
          )
        }
      } catch (e) {
        this.onListenerError(e, event)
      }
    }
    return pending ? Promise.all(pending).then(() => undefined) : undefined
  }
}
