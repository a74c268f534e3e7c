/**
 * Races `work` against a timer: settles as `work` does, or as `onTimeout()` does (its value, or what
 * it throws) when `ms` pass first. The timer is cleared either way, so it never holds the process
 * open; `work` itself is not cancelled (a late rejection of it is still handled by the race).
 */
export function withTimeout<T>(work: Promise<T>, ms: number, onTimeout: () => T): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<T>((resolve, reject) => {
    timer = setTimeout(() => {
      try {
        resolve(onTimeout())
      } catch (err) {
        reject(err)
      }
    }, ms)
  })
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer))
}
