// A private Jaeger v2 (all-in-one, in-memory storage) for the trace tests and the local stack.
// The binary is built from the Go module proxy and cached by scripts/go-tool (CI builds it in
// bootstrap, before the tests). Its default config listens on a dozen fixed ports on every
// interface; this one binds only what is used, on 127.0.0.1 and free ports: OTLP in (HTTP and
// gRPC), the query API / UI, and the health check.
import { execFile } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { repoRoot } from './paths.ts'
import { freePorts } from './ports.ts'
import { reapStale } from './reaper.ts'
import { failStart, launch, once, persist, prepareServer, stopServer, waitUntilReady } from './server.ts'

export interface JaegerServer {
  /** OTLP/HTTP base URL: OTEL_EXPORTER_OTLP_ENDPOINT (the SDK appends /v1/traces). */
  otlpHttpUrl: string
  /** OTLP/gRPC endpoint (host:port). */
  otlpGrpcEndpoint: string
  /** UI and query API (`/api/traces?service=…`, `/api/v3/…`). */
  queryUrl: string
  stop(): Promise<void>
}

const host = '127.0.0.1'
const execFileAsync = promisify(execFile)

/** The cached jaeger binary's path, building it first when missing (minutes, once per machine). */
export async function jaegerBinary(): Promise<string> {
  const { stdout } = await execFileAsync(join(repoRoot, 'scripts/go-tool'), ['path', 'jaeger'], {
    maxBuffer: 16 * 1024 * 1024,
  })
  return stdout.trim()
}

function config(p: {
  otlpHttp: number
  otlpGrpc: number
  query: number
  queryGrpc: number
  health: number
}): string {
  return `# written by test/infra/jaeger.ts
service:
  extensions: [jaeger_storage, jaeger_query, healthcheckv2]
  pipelines:
    traces:
      receivers: [otlp]
      processors: [batch]
      exporters: [jaeger_storage_exporter]
  telemetry:
    resource:
      service.name: jaeger
    metrics:
      level: none
    logs:
      level: warn
extensions:
  jaeger_storage:
    backends:
      memstore:
        memory:
          max_traces: 100000
  jaeger_query:
    storage:
      traces: memstore
    enable_tracing: false
    http:
      endpoint: ${host}:${p.query}
    grpc:
      endpoint: ${host}:${p.queryGrpc}
  healthcheckv2:
    use_v2: true
    http:
      endpoint: ${host}:${p.health}
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: ${host}:${p.otlpGrpc}
      http:
        endpoint: ${host}:${p.otlpHttp}
processors:
  batch:
    timeout: 200ms
exporters:
  jaeger_storage_exporter:
    trace_storage: memstore
`
}

/** Internal: `persistentFor` (the env file of `cli.ts up`) is for a stack that outlives its starter; startJaeger() is always owned. */
export async function launchJaeger(opts: { persistentFor?: string } = {}): Promise<JaegerServer> {
  await reapStale()
  const binary = await jaegerBinary()
  const [otlpHttp, otlpGrpc, query, queryGrpc, health] = (await freePorts(5)) as [
    number,
    number,
    number,
    number,
    number,
  ]
  const server = prepareServer('jaeger', `${host}:${query}`)
  try {
    const file = join(server.entry.dir, 'jaeger.yaml')
    writeFileSync(file, config({ otlpHttp, otlpGrpc, query, queryGrpc, health }))
    await launch(server, binary, ['--config', file], file)
    await waitUntilReady(
      server,
      `jaeger :${query}`,
      async () => {
        const [h, q] = await Promise.all([
          fetch(`http://${host}:${health}/status`, { signal: AbortSignal.timeout(1000) }),
          fetch(`http://${host}:${query}/api/services`, { signal: AbortSignal.timeout(1000) }),
        ])
        await Promise.all([h.arrayBuffer(), q.arrayBuffer()])
        return h.ok && q.ok
      },
      30_000,
    )
  } catch (error) {
    return failStart(server, error)
  }
  if (opts.persistentFor) persist(server, opts.persistentFor)
  return {
    otlpHttpUrl: `http://${host}:${otlpHttp}`,
    otlpGrpcEndpoint: `${host}:${otlpGrpc}`,
    queryUrl: `http://${host}:${query}`,
    stop: once(() => stopServer(server)),
  }
}

/** A fresh private Jaeger on free ports, stopped by stop() (or by the watchdog if this process dies). */
export function startJaeger(): Promise<JaegerServer> {
  return launchJaeger()
}
