// Test fixture (otel.test.ts): an "application" started with --import otel.ts. It logs through the
// runtime's pino logger inside a span and prints what it saw as one JSON line.
import { trace } from '@opentelemetry/api'
import { createLogger } from '../logger.ts'
import { shutdownTracing, tracingEnabled } from '../tracing.ts'

const loaded = (globalThis as { loadedModules?: string[] }).loadedModules ?? []
const lines: string[] = []
const logger = createLogger('fixture', 'info', { write: (line: string) => lines.push(line) })
trace.getTracer('fixture').startActiveSpan('work', (span) => {
  logger.info('inside a span')
  span.end()
})
process.stdout.write(
  `${JSON.stringify({
    enabled: tracingEnabled(),
    sdkLoaded: loaded.some((url) => url.includes('@opentelemetry/sdk-node')),
    log: JSON.parse(lines[0] ?? '{}'),
  })}\n`,
)
await shutdownTracing()
