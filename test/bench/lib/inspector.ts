// A minimal Chrome DevTools Protocol client for a process started with `--inspect=127.0.0.1:0`: the
// bench forces full GCs and reads heap figures without any hook in the service's code.
import { WebSocket } from 'ws'

export interface MemoryUsage {
  rss: number
  heapTotal: number
  heapUsed: number
  external: number
  arrayBuffers: number
}

export interface Inspector {
  /**
   * A last-resort GC (HeapProfiler.collectGarbage), done twice: weak callbacks free more the 2nd
   * time, and V8 shrinks its spaces and returns free pages to the OS. A running pod rarely gets one.
   */
  collectGarbage(): Promise<void>
  /**
   * One ordinary full (major) GC, as V8 runs by itself under heap pressure: no shrinking pass, so
   * RSS afterwards is what a running pod holds. Through `gc()` exposed at run time in the process.
   */
  ordinaryGc(): Promise<void>
  /** `process.memoryUsage()` inside the process. */
  memoryUsage(): Promise<MemoryUsage>
  /** The raw .heapsnapshot JSON text. */
  heapSnapshot(): Promise<string>
  /** Starts V8's sampling CPU profiler (100 µs interval). */
  startProfile(): Promise<void>
  /** Stops it: the .cpuprofile JSON text (what Chrome DevTools and `node --cpu-prof` write). */
  stopProfile(): Promise<string>
  close(): Promise<void>
}

// `--expose-gc` set after start is seen by new contexts: the `gc` of a fresh vm context is V8's.
const ORDINARY_GC = `(() => {
  process.getBuiltinModule('node:v8').setFlagsFromString('--expose-gc')
  process.getBuiltinModule('node:vm').runInNewContext('gc')({ type: 'major', execution: 'sync' })
  return 1
})()`

export async function connectInspector(url: string): Promise<Inspector> {
  const ws = new WebSocket(url, { perMessageDeflate: false, maxPayload: 1 << 30 })
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve())
    ws.once('error', reject)
  })
  let nextId = 1
  const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>()
  const chunks: string[] = []
  ws.on('message', (data) => {
    const msg = JSON.parse(String(data)) as {
      id?: number
      result?: unknown
      error?: { message: string }
      method?: string
      params?: { chunk?: string }
    }
    if (msg.method === 'HeapProfiler.addHeapSnapshotChunk') {
      chunks.push(msg.params!.chunk!)
      return
    }
    if (msg.id === undefined) return
    const p = pending.get(msg.id)
    if (!p) return
    pending.delete(msg.id)
    if (msg.error) p.reject(new Error(`inspector: ${msg.error.message}`))
    else p.resolve(msg.result)
  })
  ws.on('close', () => {
    for (const p of pending.values()) p.reject(new Error('inspector connection closed'))
    pending.clear()
  })

  const call = <T>(method: string, params: Record<string, unknown> = {}, timeoutMs = 120_000): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      const id = nextId++
      const t = setTimeout(() => {
        pending.delete(id)
        reject(new Error(`inspector: ${method} timed out`))
      }, timeoutMs)
      pending.set(id, {
        resolve: (v) => {
          clearTimeout(t)
          resolve(v as T)
        },
        reject: (e) => {
          clearTimeout(t)
          reject(e)
        },
      })
      ws.send(JSON.stringify({ id, method, params }))
    })

  return {
    async collectGarbage() {
      await call('HeapProfiler.collectGarbage')
      await call('HeapProfiler.collectGarbage')
    },
    async ordinaryGc() {
      await call('Runtime.evaluate', { expression: ORDINARY_GC, returnByValue: true })
    },
    async memoryUsage() {
      const r = await call<{ result: { value: string } }>('Runtime.evaluate', {
        expression: 'JSON.stringify(process.memoryUsage())',
        returnByValue: true,
      })
      return JSON.parse(r.result.value) as MemoryUsage
    },
    async heapSnapshot() {
      chunks.length = 0
      await call('HeapProfiler.enable')
      await call('HeapProfiler.takeHeapSnapshot', { reportProgress: false }, 600_000)
      await call('HeapProfiler.disable')
      const text = chunks.join('')
      chunks.length = 0
      return text
    },
    async startProfile() {
      await call('Profiler.enable')
      await call('Profiler.setSamplingInterval', { interval: 100 })
      await call('Profiler.start')
    },
    async stopProfile() {
      const r = await call<{ profile: unknown }>('Profiler.stop', {}, 600_000)
      await call('Profiler.disable')
      return JSON.stringify(r.profile)
    },
    close() {
      return new Promise<void>((resolve) => {
        if (ws.readyState === WebSocket.CLOSED) return resolve()
        ws.once('close', () => resolve())
        ws.close()
      })
    },
  }
}
