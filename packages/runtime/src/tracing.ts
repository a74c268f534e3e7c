// Whether this process traces, and how to flush its spans on the way out. The SDK itself lives in
// otel-sdk.ts and is only loaded when tracing is on (otel.ts); everything else asks here, so a
// process without tracing never loads it. A global symbol, not a module variable: the `--import`
// entry and the application may reach this file through different specifiers.
const KEY = Symbol.for('tidings.tracing')

interface TracingHandle {
  /** Flushes buffered spans to the exporter and stops the SDK. */
  shutdown(): Promise<void>
}

type GlobalWithTracing = typeof globalThis & { [KEY]?: TracingHandle }

/** Called once by otel-sdk.ts when the SDK started. */
export function registerTracing(handle: TracingHandle): void {
  ;(globalThis as GlobalWithTracing)[KEY] = handle
}

/** True when the OpenTelemetry SDK runs in this process (OTEL_TRACES_EXPORTER=otlp and the --import). */
export function tracingEnabled(): boolean {
  return (globalThis as GlobalWithTracing)[KEY] !== undefined
}

/** Exports what is buffered and stops the SDK; a no-op without tracing. Never throws. */
export async function shutdownTracing(): Promise<void> {
  const handle = (globalThis as GlobalWithTracing)[KEY]
  if (!handle) return
  delete (globalThis as GlobalWithTracing)[KEY]
  await handle.shutdown().catch(() => undefined)
}

/** `OTEL_TRACES_EXPORTER` names `otlp` and the SDK is not disabled: the only switch (standard variables). */
export function tracingRequested(env: NodeJS.ProcessEnv): boolean {
  if ((env.OTEL_SDK_DISABLED ?? '').trim().toLowerCase() === 'true') return false
  return (env.OTEL_TRACES_EXPORTER ?? '')
    .split(',')
    .map((e) => e.trim().toLowerCase())
    .includes('otlp')
}
