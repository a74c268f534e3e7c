// The OpenTelemetry Node SDK, started by otel.ts when OTEL_TRACES_EXPORTER=otlp (or by a test that
// traces its own process). The SDK reads the standard variables itself: OTEL_EXPORTER_OTLP_ENDPOINT
// (and _TRACES_ENDPOINT), OTEL_EXPORTER_OTLP_PROTOCOL (http/protobuf by default, http/json, grpc),
// OTEL_TRACES_SAMPLER(_ARG), OTEL_RESOURCE_ATTRIBUTES, OTEL_SERVICE_NAME, OTEL_BSP_*.
import { readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { FastifyOtelInstrumentation } from '@fastify/otel'
import { IORedisInstrumentation } from '@opentelemetry/instrumentation-ioredis'
import { KafkaJsInstrumentation } from '@opentelemetry/instrumentation-kafkajs'
import { PinoInstrumentation } from '@opentelemetry/instrumentation-pino'
import { NodeSDK } from '@opentelemetry/sdk-node'
import { type Static, Type } from '@sinclair/typebox'
import { register as registerImportHooks, supportsSyncHooks } from 'import-in-the-middle/register-hooks.mjs'
import { loadConfig } from './config.ts'
import { registerTracing, tracingEnabled } from './tracing.ts'

// patterns rather than unions of literals: the error then lists the values that are allowed
const Protocol = Type.Optional(Type.String({ pattern: '^(http/protobuf|http/json|grpc)$' }))
const Endpoint = Type.Optional(Type.String({ pattern: '^https?://[^\\s]+$' }))

/**
 * The OTEL_* settings Tidings documents, checked at start like every other setting: the SDK itself
 * would only warn (and only with OTEL_LOG_LEVEL set) and go on without traces or with another sampler.
 */
export const OtelSettings = Type.Object({
  OTEL_EXPORTER_OTLP_PROTOCOL: Protocol,
  OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: Protocol,
  OTEL_EXPORTER_OTLP_ENDPOINT: Endpoint,
  OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: Endpoint,
  OTEL_TRACES_SAMPLER: Type.Optional(
    Type.String({ pattern: '^(parentbased_)?(always_on|always_off|traceidratio)$' }),
  ),
  OTEL_TRACES_SAMPLER_ARG: Type.Optional(Type.Number({ minimum: 0, maximum: 1 })),
})
export type OtelSettings = Static<typeof OtelSettings>

// The packages the instrumentations patch. The services import them from ESM, so the patching goes
// through import-in-the-middle's loader hook, limited to these (every other module loads untouched).
const PATCHED = ['ioredis', 'kafkajs', 'pino']

// Probes and scrapes every few seconds would bury the traces that matter.
const UNTRACED_PATHS = new Set(['/healthz', '/readyz', '/metrics'])

export interface StartTracingOptions {
  /** Default: OTEL_SERVICE_NAME, else the main script's package name (`@tidings/gateway` → `tidings-gateway`). */
  serviceName?: string
}

/** Starts the SDK once per process; resolves when spans can be recorded. Throws ConfigError on a bad OTEL_*. */
export async function startTracing(opts: StartTracingOptions = {}): Promise<void> {
  if (tracingEnabled()) return
  loadConfig(OtelSettings, process.env)
  if (supportsSyncHooks()) registerImportHooks({ include: PATCHED })
  // Tidings exports traces only: its metrics are Prometheus (/metrics) and its logs go to stdout. The
  // SDK would otherwise default the log (and metric) exporters to OTLP too.
  process.env.OTEL_LOGS_EXPORTER ??= 'none'
  process.env.OTEL_METRICS_EXPORTER ??= 'none'

  const kafkajs = new KafkaJsInstrumentation()
  // kafkajs's eachBatch instrumentation starts one root `poll` trace per fetched batch and only LINKS
  // each record to its producer. The dispatcher continues each record's own trace instead
  // (services/dispatcher/src/tracing.ts), so only the producer side (send spans, traceparent
  // injection) of this instrumentation is kept.
  Object.assign(kafkajs, { _getConsumerRunPatch: () => (original: unknown) => original })

  const sdk = new NodeSDK({
    serviceName: opts.serviceName ?? process.env.OTEL_SERVICE_NAME ?? defaultServiceName(),
    instrumentations: [
      new FastifyOtelInstrumentation({
        registerOnInitialization: true,
        ignorePaths: (route) => UNTRACED_PATHS.has(route.url),
        // `GET /v1/inbox` rather than the plugin's `request`: what Jaeger lists as the operation
        requestHook: (span, request) =>
          span.updateName(`${request.method} ${request.routeOptions.url ?? ''}`),
      }),
      // Without a parent, a Redis command (a presence refresh, a health ping) is no one's story.
      new IORedisInstrumentation({ requireParentSpan: true }),
      kafkajs,
      // trace_id / span_id on every log line written inside a span; logs stay on stdout.
      new PinoInstrumentation({ disableLogSending: true }),
    ],
  })
  sdk.start()
  registerTracing({ shutdown: () => sdk.shutdown() })
}

/** `@tidings/gateway` → `tidings-gateway`, from the package.json nearest to the main script. */
export function defaultServiceName(): string {
  let dir = dirname(process.argv[1] ?? join(process.cwd(), 'x'))
  for (;;) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: unknown }
      if (typeof pkg.name === 'string' && pkg.name !== '') return pkg.name.replace(/^@/, '').replace('/', '-')
    } catch {
      // no package.json here: look further up
    }
    const parent = dirname(dir)
    if (parent === dir) return 'unknown_service:node'
    dir = parent
  }
}
