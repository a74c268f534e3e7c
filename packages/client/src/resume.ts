// The resume position (epoch, highest handled seq, user) and its storage: loaded once before the
// first connection, written coalesced (one write in flight, the latest value wins).
import { TidingsError } from './errors.ts'
import { parseResumeState, type ResumeState, type ResumeStorage } from './storage.ts'

export interface ResumePosition {
  /** The position (null: none, the next connection starts from the inbox). */
  readonly current: Readonly<ResumeState> | null
  /** The storage write in progress, if any. */
  readonly writing: Promise<void> | undefined
  /** Loads the stored position; only the first call reads storage. */
  load(): Promise<void>
  /** Forgets the position (logout, another user) and clears storage. */
  forget(): void
  /** The stored position was someone else's (no resetResume() at logout). */
  belongsToAnother(userId: string): boolean
  /**
   * The server's sequence is in `epoch`. A position in another epoch (or none) starts over at 0:
   * returns true then. Not persisted yet: `claim()` does.
   */
  enterEpoch(epoch: string): boolean
  /** Records whose position this is (when known) and persists it. */
  claim(userId: string | undefined): void
  /** The position, starting one in `epoch` at 0 if there is none (not persisted until it advances). */
  ensure(epoch: string): Readonly<ResumeState>
  /**
   * `seq` (notification `id`) was handled: moves the position forward. False when it is not ahead
   * (or was reset meanwhile).
   */
  advance(seq: number, id: string): boolean
  /** The server went back to `afterSeq` (writes lost in a failover). True when the position moved back. */
  rewind(afterSeq: number): boolean
}

export function createResumePosition(
  storage: ResumeStorage,
  report: (error: TidingsError) => void,
): ResumePosition {
  let state: ResumeState | null = null
  let loaded: Promise<void> | undefined
  let writing: Promise<void> | undefined
  let dirty = false

  const read = async (): Promise<void> => {
    try {
      state = parseResumeState(await storage.load())
    } catch (cause) {
      report(new TidingsError('storage', 'loading the resume position failed', { cause }))
    }
  }
  // Through an async function, a storage that throws synchronously (localStorage over quota) rejects
  // instead: otherwise write() would finish before `persist` stores it in `writing`, which would then
  // hold a settled promise for ever (no later write, and settled() spinning on it).
  const save = async (snapshot: ResumeState | null): Promise<void> => {
    await (snapshot ? storage.save(snapshot) : storage.clear())
  }
  const write = async (): Promise<void> => {
    try {
      while (dirty) {
        dirty = false
        const snapshot = state ? { ...state } : null
        try {
          await save(snapshot)
        } catch (cause) {
          report(new TidingsError('storage', 'saving the resume position failed', { cause }))
        }
      }
    } finally {
      writing = undefined
    }
  }
  const persist = (): void => {
    dirty = true
    writing ??= write()
  }

  return {
    get current() {
      return state
    },
    get writing() {
      return writing
    },
    load() {
      loaded ??= read()
      return loaded
    },
    forget() {
      state = null
      persist()
    },
    belongsToAnother: (userId) => state?.userId !== undefined && state.userId !== userId,
    enterEpoch(epoch) {
      if (state && state.epoch === epoch) return false
      state = { epoch, lastSeq: 0 }
      return true
    },
    claim(userId) {
      if (userId !== undefined && state) state.userId = userId
      persist()
    },
    ensure(epoch) {
      state ??= { epoch, lastSeq: 0 }
      return state
    },
    advance(seq, id) {
      if (!state || seq <= state.lastSeq) return false
      state.lastSeq = seq
      state.lastId = id
      persist()
      return true
    },
    rewind(afterSeq) {
      if (!state || afterSeq >= state.lastSeq) return false
      state.lastSeq = afterSeq
      // the id of the notification at afterSeq is not known (and at 0 there is none)
      delete state.lastId
      persist()
      return true
    },
  }
}
