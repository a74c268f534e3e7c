// The OpenTelemetry entry point, loaded before the application: `node --import <this file> main.ts`
// (test/e2e/processes.ts, the Dockerfile and the services' `start` scripts do). Configured only by
// the standard OTEL_* variables: OTEL_TRACES_EXPORTER=otlp turns tracing on; anything else (unset
// included) returns here without loading the SDK, so tracing off costs one module and no patching.
import { tracingRequested } from './tracing.ts'

if (tracingRequested(process.env)) {
  const { startTracing } = await import('./otel-sdk.ts')
  await startTracing()
}
