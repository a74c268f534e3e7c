// The OpenTelemetry entry point, loaded before the application: `node --import <this file> main.ts`
// (test/e2e/processes.ts, the Dockerfile and the services' `start` scripts do). Configured only by
// the standard OTEL_* variables: OTEL_TRACES_EXPORTER=otlp turns tracing on; anything else (unset
// included) returns here without loading the SDK, so tracing off costs one module and no patching.
import { ConfigError } from './config.ts'
import { tracingRequested } from './tracing.ts'

if (tracingRequested(process.env)) {
  const { defaultServiceName, startTracing } = await import('./otel-sdk.ts')
  try {
    await startTracing()
  } catch (err) {
    // a bad setting stops the service before it starts, like its own settings do (exit 78)
    if (err instanceof ConfigError) {
      process.stderr.write(
        `${process.env.OTEL_SERVICE_NAME ?? defaultServiceName()}: configuration error: ${err.message}\n`,
      )
      process.exit(78)
    }
    throw err
  }
}
