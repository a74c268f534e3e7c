// Tracing for the local stack (test/stack.ts): decides from the environment whether the services
// trace, and starts a private Jaeger for them when no collector is given.
//   TIDINGS_TRACING=1, or OTEL_TRACES_EXPORTER=otlp without an OTLP endpoint → a Jaeger started here
//   OTEL_TRACES_EXPORTER=otlp with OTEL_EXPORTER_OTLP_(TRACES_)ENDPOINT        → your collector
//   neither                                                                  → tracing off
import { type JaegerServer, startJaeger } from './infra/index.ts'

export async function startTracingBackend(
  env: NodeJS.ProcessEnv,
  say: (line: string) => void,
): Promise<{ jaeger: JaegerServer | undefined; otelEnv: Record<string, string> }> {
  const passed = Object.fromEntries(
    Object.entries(env).filter((e): e is [string, string] => e[0].startsWith('OTEL_') && e[1] !== undefined),
  )
  const requested = (env.OTEL_TRACES_EXPORTER ?? '').split(',').includes('otlp')
  const endpoint = env.OTEL_EXPORTER_OTLP_ENDPOINT ?? env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT
  if (requested && endpoint) return { jaeger: undefined, otelEnv: passed }
  if (!requested && env.TIDINGS_TRACING !== '1') return { jaeger: undefined, otelEnv: {} }
  say('starting Jaeger (the first time it is built from the Go module proxy: a few minutes)…')
  const jaeger = await startJaeger()
  return {
    jaeger,
    otelEnv: {
      ...passed,
      OTEL_TRACES_EXPORTER: 'otlp',
      OTEL_EXPORTER_OTLP_ENDPOINT: jaeger.otlpHttpUrl,
      OTEL_EXPORTER_OTLP_PROTOCOL: env.OTEL_EXPORTER_OTLP_PROTOCOL ?? 'http/protobuf',
    },
  }
}
