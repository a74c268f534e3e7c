/** A bounded set that forgets the least recently seen key first. */
export class LruSet {
  private readonly keys = new Map<string, true>()
  private readonly capacity: number

  constructor(capacity: number) {
    this.capacity = Math.max(1, Math.floor(capacity))
  }

  get size(): number {
    return this.keys.size
  }

  has(key: string): boolean {
    return this.keys.has(key)
  }

  /** Adds `key` (or marks it most recent). Returns false when it was already present. */
  add(key: string): boolean {
    const had = this.keys.delete(key)
    this.keys.set(key, true)
    if (this.keys.size > this.capacity) {
      const oldest = this.keys.keys().next()
      if (!oldest.done) this.keys.delete(oldest.value)
    }
    return !had
  }

  clear(): void {
    this.keys.clear()
  }
}
