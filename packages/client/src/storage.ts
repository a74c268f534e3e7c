/** The position the SDK resumes from. */
export interface ResumeState {
  /** Epoch of the user's sequence (opaque, from `welcome` / `missed`). */
  epoch: string
  /** Highest notification seq the app has handled in that epoch. */
  lastSeq: number
  /**
   * The id of that notification: the server checks that `lastSeq` still holds it, so that seqs
   * handed out again after Redis lost writes are not skipped. Absent in positions stored by 0.1.
   */
  lastId?: string
  /** The user this position belongs to (from `welcome`); a different user starts afresh. */
  userId?: string
}

/** Where the resume position lives. Methods may be synchronous or return promises. */
export interface ResumeStorage {
  load(): ResumeState | null | undefined | Promise<ResumeState | null | undefined>
  save(state: ResumeState): void | Promise<void>
  clear(): void | Promise<void>
}

/** The synchronous Web Storage shape (`window.localStorage`, `sessionStorage`, MMKV wrappers…). */
export interface StorageLike {
  getItem(key: string): string | null
  setItem(key: string, value: string): void
  removeItem(key: string): void
}

/** The promise-based shape of React Native's `@react-native-async-storage/async-storage`. */
export interface AsyncStorageLike {
  getItem(key: string): Promise<string | null>
  setItem(key: string, value: string): Promise<void>
  removeItem(key: string): Promise<void>
}

export const DEFAULT_STORAGE_KEY = 'tidings.resume'

/** Validates what came out of storage; anything odd means "no position". */
export function parseResumeState(raw: unknown): ResumeState | null {
  let v = raw
  if (typeof v === 'string') {
    try {
      v = JSON.parse(v)
    } catch {
      return null
    }
  }
  if (v === null || typeof v !== 'object') return null
  const o = v as Record<string, unknown>
  if (typeof o.epoch !== 'string' || typeof o.lastSeq !== 'number') return null
  if (!Number.isSafeInteger(o.lastSeq) || o.lastSeq < 0) return null
  const state: ResumeState = { epoch: o.epoch, lastSeq: o.lastSeq }
  if (typeof o.lastId === 'string' && o.lastId !== '' && o.lastSeq > 0) state.lastId = o.lastId
  if (typeof o.userId === 'string') state.userId = o.userId
  return state
}

/** Keeps the position in memory only (the default): a reload replays what the inbox still holds. */
export function memoryStorage(initial?: ResumeState): ResumeStorage {
  let state: ResumeState | null = initial ? { ...initial } : null
  return {
    load: () => (state ? { ...state } : null),
    save: (s) => {
      state = { ...s }
    },
    clear: () => {
      state = null
    },
  }
}

/** Persists the position in a Web Storage object (default `globalThis.localStorage`). */
export function localStorageAdapter(storage?: StorageLike, key: string = DEFAULT_STORAGE_KEY): ResumeStorage {
  const store = (): StorageLike => {
    const s = storage ?? (globalThis as { localStorage?: StorageLike }).localStorage
    if (!s) throw new TypeError('localStorageAdapter: no localStorage in this environment; pass one')
    return s
  }
  return {
    load: () => parseResumeState(store().getItem(key)),
    save: (s) => store().setItem(key, JSON.stringify(s)),
    clear: () => store().removeItem(key),
  }
}

/** Persists the position in an AsyncStorage-like store (React Native). */
export function asyncStorageAdapter(
  storage: AsyncStorageLike,
  key: string = DEFAULT_STORAGE_KEY,
): ResumeStorage {
  return {
    load: async () => parseResumeState(await storage.getItem(key)),
    save: (s) => storage.setItem(key, JSON.stringify(s)),
    clear: () => storage.removeItem(key),
  }
}
