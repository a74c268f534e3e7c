// Test fixture (otel.test.ts): loaded with --import before otel.ts, records every module URL the
// process resolves, so a test can tell whether the OpenTelemetry SDK was loaded at all.
import { registerHooks } from 'node:module'

const loaded: string[] = []
;(globalThis as { loadedModules?: string[] }).loadedModules = loaded
registerHooks({
  resolve(specifier, context, nextResolve) {
    const result = nextResolve(specifier, context)
    loaded.push(result.url)
    return result
  },
})
