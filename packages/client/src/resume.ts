// The resume position (epoch, highest handled seq, user) and its storage: loaded once before the
// first connection, written coalesced (one write in flight, the latest value wins).
import { TidingsError } from './errors.ts'
import { parseResumeState, type ResumeState, type ResumeStorage } from './storage.ts'

export class ResumePosition {
  private state: ResumeState | null = null
  private loaded: Promise<void> | undefined
  private pendingWrite: Promise<void> | undefined
  private dirty = false
  private readonly storage: ResumeStorage
  private readonly report: (error: TidingsError) => void

  constructor(storage: ResumeStorage, report: (error: TidingsError) => void) {
    this.storage = storage
    this.report = report
  }

  /** The position (null: none, the next connection starts from the inbox). */
  get current(): Readonly<ResumeState> | null {
    return this.state
  }

  /** Loads the stored position; only the first call reads storage. */
  load(): Promise<void> {
    this.loaded ??= this.read()
    return this.loaded
  }

  /** The storage write in progress, if any. */
  get writing(): Promise<void> | undefined {
    return this.pendingWrite
  }

  /** Forgets the position (logout, another user) and clears storage. */
  forget(): void {
    this.state = null
    this.persist()
  }

  /** The stored position was someone else's (no resetResume() at logout). */
  belongsToAnother(userId: string): boolean {
    return this.state?.userId !== undefined && this.state.userId !== userId
  }

  /**
   * The server's sequence is in `epoch`. A position in another epoch (or none) starts over at 0:
   * returns true then. Not persisted yet: `claim()` does.
   */
  enterEpoch(epoch: string): boolean {
    if (this.state && this.state.epoch === epoch) return false
    this.state = { epoch, lastSeq: 0 }
    return true
  }

  /** Records whose position this is (when known) and persists it. */
  claim(userId: string | undefined): void {
    if (userId !== undefined && this.state) this.state.userId = userId
    this.persist()
  }

  /** The position, starting one in `epoch` at 0 if there is none (not persisted until it advances). */
  ensure(epoch: string): Readonly<ResumeState> {
    this.state ??= { epoch, lastSeq: 0 }
    return this.state
  }

  /** `seq` was handled: moves the position forward. False when it is not ahead (or was reset meanwhile). */
  advance(seq: number): boolean {
    if (!this.state || seq <= this.state.lastSeq) return false
    this.state.lastSeq = seq
    this.persist()
    return true
  }

  /** The server went back to `afterSeq` (writes lost in a failover). True when the position moved back. */
  rewind(afterSeq: number): boolean {
    if (!this.state || afterSeq >= this.state.lastSeq) return false
    this.state.lastSeq = afterSeq
    this.persist()
    return true
  }

  private async read(): Promise<void> {
    try {
      this.state = parseResumeState(await this.storage.load())
    } catch (cause) {
      this.report(new TidingsError('storage', 'loading the resume position failed', { cause }))
    }
  }

  private persist(): void {
    this.dirty = true
    this.pendingWrite ??= this.write()
  }

  private async write(): Promise<void> {
    try {
      while (this.dirty) {
        this.dirty = false
        const snapshot = this.state ? { ...this.state } : null
        try {
          await (snapshot ? this.storage.save(snapshot) : this.storage.clear())
        } catch (cause) {
          this.report(new TidingsError('storage', 'saving the resume position failed', { cause }))
        }
      }
    } finally {
      this.pendingWrite = undefined
    }
  }
}
