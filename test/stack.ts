// The local Tidings stack for people: `pnpm start` (= node test/stack.ts) at the repo root.
//
// Kafka + Redis (reused from KAFKA_BROKERS/REDIS_URL or a live `.tidings/infra.env` of `pnpm infra:up`,
// else started here and stopped on exit), one dispatcher and two gateways as real processes on fixed
// ports, their logs pretty-printed with the service's name. Ctrl-C (SIGINT) or SIGTERM stops the
// gateways (drain), then the dispatcher (commit, leave the group), then the infra started here, and
// exits 0; a second Ctrl-C kills everything at once.
//
// Settings (environment):
//   TIDINGS_GATEWAY_PORTS    gateway ports, comma-separated, one gateway per port (default 8081,8082)
//   TIDINGS_DISPATCHER_PORT  dispatcher health/metrics port (default 9464)
//   TIDINGS_HOST             interface the gateways listen on (default 127.0.0.1; 0.0.0.0 for a phone on the LAN)
//   TIDINGS_ALLOWED_ORIGINS  browser origins allowed by the gateways (default: the demo page's origins)
//   TIDINGS_LOG              pretty (default) | json (the services' raw pino lines, prefixed)
//   LOG_LEVEL                the services' log level (default info)
//   TIDINGS_TRACING=1        OpenTelemetry traces into a local Jaeger started here (its UI URL is in the
//                            banner); also when OTEL_TRACES_EXPORTER=otlp is set without an endpoint.
//                            With OTEL_EXPORTER_OTLP_ENDPOINT set, the OTEL_* variables go to the services
//                            as they are (your own collector) and no Jaeger is started.
//   KAFKA_BROKERS, REDIS_URL existing servers to use instead of starting them
//   PUSH_*                   the dispatcher's push hand-off settings, e.g. PUSH_TOPIC=notifications.push
import { mkdtempSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { styleText } from 'node:util'
import { TOPICS } from '@tidings/contracts'
import { startDemoServer } from '../examples/borrower-demo/src/server.ts'
import { dispatcherEntry, gatewayEntry, type ServiceProcess, serviceProcess } from './e2e/processes.ts'
import { liveEnvFile, removeEnvFile, writeEnvFile } from './infra/env-file.ts'
import { checkGivenInfra, type Infra, type JaegerServer, startInfra } from './infra/index.ts'
import { defaultEnvFile, stackEnvFile } from './infra/paths.ts'
import { signUserToken, TEST_JWT_SECRET } from './support/tokens.ts'
import { startTracingBackend } from './tracing-backend.ts'

const DEMO_USER = 'b-1042'
/** Where the borrower demo page will be served (see `startExtras`); its origin is allowed by default. */
const DEMO_PAGE_PORT = Number(process.env.TIDINGS_DEMO_PORT ?? 8080)

const env = process.env
const gatewayPorts = (env.TIDINGS_GATEWAY_PORTS ?? '8081,8082')
  .split(',')
  .map((p) => Number(p.trim()))
  .filter((p) => p > 0)
const dispatcherPort = Number(env.TIDINGS_DISPATCHER_PORT ?? 9464)
const host = env.TIDINGS_HOST ?? '127.0.0.1'
const publicHost = host === '0.0.0.0' ? '127.0.0.1' : host
const allowedOrigins =
  env.TIDINGS_ALLOWED_ORIGINS ?? `http://localhost:${DEMO_PAGE_PORT},http://127.0.0.1:${DEMO_PAGE_PORT}`
const logMode = env.TIDINGS_LOG === 'json' ? 'json' : 'pretty'
const logLevel = env.LOG_LEVEL ?? 'info'

// ---------- output ----------

type Style = Parameters<typeof styleText>[0]
const color = process.stdout.isTTY && !env.NO_COLOR
const paint = (style: Style, text: string) => (color ? styleText(style, text) : text)
const serviceColors: Style[] = ['cyan', 'magenta', 'blue', 'yellow', 'green']
const nameWidth = 12
const levels: Record<number, [string, Style]> = {
  10: ['TRACE', 'gray'],
  20: ['DEBUG', 'gray'],
  30: ['INFO ', 'green'],
  40: ['WARN ', 'yellow'],
  50: ['ERROR', 'red'],
  60: ['FATAL', 'red'],
}
const hidden = new Set(['level', 'time', 'msg', 'pid', 'hostname', 'name', 'pod', 'v'])

function say(text: string): void {
  process.stdout.write(`${text}\n`)
}

function prefix(service: string, index: number): string {
  return paint(serviceColors[index % serviceColors.length]!, service.padEnd(nameWidth))
}

/** One pino JSON line as `12:00:01.123 gateway-1    INFO  message key=value …`. */
function pretty(line: string): string {
  let rec: Record<string, unknown>
  try {
    rec = JSON.parse(line) as Record<string, unknown>
  } catch {
    return line
  }
  if (typeof rec !== 'object' || rec === null || !('level' in rec)) return line
  const time = new Date(typeof rec.time === 'number' ? rec.time : Date.now()).toISOString().slice(11, 23)
  const [label, style] = levels[rec.level as number] ?? [String(rec.level), 'white']
  const extras = Object.entries(rec)
    .filter(([k]) => !hidden.has(k))
    .map(([k, v]) => {
      if (k === 'err' && v && typeof v === 'object' && 'stack' in v) return `\n${String(v.stack)}`
      return `${paint('gray', `${k}=`)}${typeof v === 'string' ? v : JSON.stringify(v)}`
    })
    .join(' ')
  return `${paint('gray', time)} ${paint(style, label)} ${String(rec.msg ?? '')}${extras ? ` ${extras}` : ''}`
}

function printer(service: string, index: number): (line: string) => void {
  const p = prefix(service, index)
  return (line) => say(`${p} ${logMode === 'pretty' ? pretty(line) : line}`)
}

// ---------- life cycle ----------

let infra: Infra | undefined
let jaeger: JaegerServer | undefined
/** OTEL_* settings of every service (empty: tracing off). */
let otelEnv: Record<string, string> = {}
let logDir: string | undefined
const services: ServiceProcess[] = []
const extras: Array<{ name: string; stop(): Promise<void> }> = []
let shuttingDown = false

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer()
    server.once('error', () => resolve(false))
    server.listen(port, host, () => server.close(() => resolve(true)))
  })
}

async function shutdown(reason: string, code: number): Promise<never> {
  if (shuttingDown) return new Promise<never>(() => {})
  shuttingDown = true
  const hint =
    services.some((s) => s.running) || infra ? ' — press Ctrl-C again to kill everything at once' : ''
  say(paint('bold', `\nstopping (${reason})${hint}`))
  const gateways = services.filter((s) => s.name.startsWith('gateway'))
  const dispatcher = services.filter((s) => s.name === 'dispatcher')
  // extras (demo page) and gateways first: what clients see; then the dispatcher commits and
  // leaves its group; then the infra this process started
  await Promise.allSettled(extras.map((e) => e.stop()))
  await Promise.allSettled(gateways.map((g) => g.stop(15_000)))
  await Promise.allSettled(dispatcher.map((d) => d.stop(15_000)))
  removeEnvFile(stackEnvFile)
  await jaeger?.stop()
  if (infra) {
    say('stopping Kafka and Redis')
    await infra.stop()
  }
  if (logDir && code === 0) rmSync(logDir, { recursive: true, force: true })
  else if (logDir) say(`logs kept in ${logDir}`)
  say('stopped')
  process.exit(code)
}

function onSignal(signal: NodeJS.Signals): void {
  if (shuttingDown) {
    say(paint('red', `second ${signal}: killing everything`))
    for (const s of services) void s.kill()
    // the infra's watchdog stops Kafka/Redis when this process is gone
    process.exit(130)
  }
  void shutdown(signal, 0)
}
process.on('SIGINT', onSignal)
process.on('SIGTERM', onSignal)

async function resolveInfra(): Promise<{ kafkaBrokers: string[]; redisUrl: string; source: string }> {
  await checkGivenInfra()
  if (env.KAFKA_BROKERS && env.REDIS_URL) {
    return { kafkaBrokers: env.KAFKA_BROKERS.split(','), redisUrl: env.REDIS_URL, source: 'environment' }
  }
  const persisted = !env.KAFKA_BROKERS && !env.REDIS_URL ? await liveEnvFile(defaultEnvFile) : undefined
  if (persisted) {
    return {
      kafkaBrokers: persisted.KAFKA_BROKERS.split(','),
      redisUrl: persisted.REDIS_URL,
      source: defaultEnvFile,
    }
  }
  say('starting Kafka and Redis (a few seconds; `pnpm infra:up` keeps them between runs)…')
  infra = await startInfra()
  if (shuttingDown) await infra.stop()
  return { kafkaBrokers: infra.kafkaBrokers, redisUrl: infra.redisUrl, source: 'started here' }
}

function service(
  name: string,
  index: number,
  entry: string,
  portEnv: string,
  serviceEnv: Record<string, string>,
) {
  const proc = serviceProcess({
    name,
    entry,
    env: {
      ...otelEnv,
      ...serviceEnv,
      [portEnv]: String(portEnv === 'PORT' ? gatewayPorts[index] : dispatcherPort),
    },
    logDir: logDir!,
    portEnv,
    detached: true,
    // kafkajs 2.2.4 (unmaintained) trips Node ≥ 23's TimeoutNegativeWarning: 3 lines of noise per start
    nodeOptions: ['--disable-warning=TimeoutNegativeWarning'],
    onLine: printer(name, index),
    onExit: (info, expected) => {
      if (expected || shuttingDown) return
      say(paint('red', `${name} exited unexpectedly (code ${info.code}, signal ${info.signal})`))
      void shutdown(`${name} died`, 1)
    },
  })
  services.push(proc)
  return proc
}

/**
 * What runs next to the services, started once they are ready and stopped first: the borrower
 * demo page on DEMO_PAGE_PORT (its origin is in ALLOWED_ORIGINS already).
 */
async function startExtras(ctx: {
  gatewayUrls: string[]
  kafkaBrokers: string[]
  jwtSecret: string
}): Promise<string[]> {
  const demo = await startDemoServer({
    port: DEMO_PAGE_PORT,
    host,
    gatewayUrls: ctx.gatewayUrls,
    jwtSecret: ctx.jwtSecret,
    borrowerId: DEMO_USER,
  })
  extras.push({ name: 'borrower demo', stop: () => demo.close() })
  return [
    `demo page  ${demo.url}/?borrower=${DEMO_USER}   (its /token signs tokens for any borrower: a local-demo shortcut)`,
  ]
}

async function main(): Promise<void> {
  if (gatewayPorts.length === 0) throw new Error('TIDINGS_GATEWAY_PORTS lists no port')
  for (const [port, variable] of [
    ...gatewayPorts.map((p) => [p, 'TIDINGS_GATEWAY_PORTS'] as const),
    [dispatcherPort, 'TIDINGS_DISPATCHER_PORT'] as const,
    [DEMO_PAGE_PORT, 'TIDINGS_DEMO_PORT'] as const,
  ]) {
    if (!(await portFree(port))) {
      throw new Error(`port ${port} on ${host} is in use (another stack?); choose others with ${variable}`)
    }
  }
  const { kafkaBrokers, redisUrl, source } = await resolveInfra()
  if (shuttingDown) return
  ;({ jaeger, otelEnv } = await startTracingBackend(env, say))
  if (shuttingDown) return
  // `pnpm demo:emit` in another terminal reads it (a stale one is ignored: its servers do not answer)
  writeEnvFile(stackEnvFile, { KAFKA_BROKERS: kafkaBrokers.join(','), REDIS_URL: redisUrl })
  logDir = mkdtempSync(join(tmpdir(), 'tidings-stack-'))

  service('dispatcher', gatewayPorts.length, dispatcherEntry, 'HTTP_PORT', {
    KAFKA_BROKERS: kafkaBrokers.join(','),
    REDIS_URL: redisUrl,
    HTTP_HOST: host,
    LOG_LEVEL: logLevel,
    // the push hand-off, when asked for: PUSH_TOPIC=notifications.push pnpm start
    ...Object.fromEntries(Object.entries(env).filter(([k, v]) => k.startsWith('PUSH_') && v !== undefined)),
  })
  gatewayPorts.forEach((_, i) => {
    service(`gateway-${i + 1}`, i, gatewayEntry, 'PORT', {
      REDIS_URL: redisUrl,
      HOST: host,
      POD_NAME: `gateway-${i + 1}`,
      JWT_ALGORITHMS: 'HS256',
      JWT_SECRET: TEST_JWT_SECRET,
      // the README's public secret and no issuer/audience: development only (issue 8)
      DEV_MODE: 'true',
      ALLOWED_ORIGINS: allowedOrigins,
      // quick Ctrl-C for a developer; production keeps the 10 s default
      DRAIN_MS: '1000',
      RECONNECT_JITTER_MS: '2000',
      SHUTDOWN_GRACE_MS: '5000',
      LOG_LEVEL: logLevel,
    })
  })
  const started = Date.now()
  const results = await Promise.allSettled(services.map((s) => s.start()))
  const failed = results.find((r) => r.status === 'rejected')
  if (failed) throw failed.reason
  if (shuttingDown) return

  const gatewayUrls = services
    .filter((s) => s.name.startsWith('gateway'))
    .map((g) => `http://${publicHost}:${g.port}`)
  const extraLines = await startExtras({ gatewayUrls, kafkaBrokers, jwtSecret: TEST_JWT_SECRET })
  const token = await signUserToken(DEMO_USER, { expiresInS: 24 * 3600 })
  const event = {
    eventId: '<uuid>',
    occurredAt: '<now>',
    borrowerId: DEMO_USER,
    loanId: 'L-77',
    decision: 'APPROVED',
    amount: { value: 50000, currency: 'BDT' },
    locale: 'en',
  }
  // no --brokers needed: demo:emit finds this stack's Kafka through .tidings/stack.env
  const produce = [
    `./scripts/bootstrap pnpm demo:emit --borrower ${DEMO_USER} --decision APPROVED`,
    `./scripts/bootstrap pnpm demo:emit --stream --rate 1      (a steady stream; Ctrl-C stops it)`,
  ]
  const h = (t: string) => paint('bold', t)
  say('')
  say(h(`Tidings is up (${Date.now() - started} ms; Kafka + Redis: ${source})`))
  say(
    `  Kafka     ${kafkaBrokers.join(',')}   topics ${TOPICS.loanDecisions}, ${TOPICS.notificationsRequested}, dead letters ${TOPICS.deadLetter}`,
  )
  say(`  Redis     ${redisUrl}`)
  if (jaeger) say(`  Jaeger    ${jaeger.queryUrl}   traces of services tidings-dispatcher, tidings-gateway`)
  else if (otelEnv.OTEL_TRACES_EXPORTER) say(`  traces    → ${otelEnv.OTEL_EXPORTER_OTLP_ENDPOINT ?? 'OTLP'}`)
  for (const url of gatewayUrls)
    say(`  gateway   ${url.replace(/^http/, 'ws')}/v1/ws   (health ${url}/readyz, ${url}/metrics)`)
  say(
    `  dispatcher http://${publicHost}:${dispatcherPort}/readyz   ${`http://${publicHost}:${dispatcherPort}/metrics`}`,
  )
  for (const line of extraLines) say(`  ${line}`)
  say('')
  const ws0 = `${gatewayUrls[0]!.replace(/^http/, 'ws')}/v1/ws`
  say(h(`A token for borrower ${DEMO_USER} (HS256, valid 24 h, secret "${TEST_JWT_SECRET}"):`))
  say(`  export TIDINGS_TOKEN=${token}`)
  say('')
  say(h('Connect (Node ≥ 22, the browser way: subprotocols tidings.v1 + bearer.<jwt>):'))
  say(
    `  node -e 'const ws = new WebSocket("${ws0}", ["tidings.v1", "bearer." + process.env.TIDINGS_TOKEN]);` +
      ` ws.onmessage = (m) => console.log(m.data); ws.onclose = (e) => console.log("closed", e.code)'`,
  )
  say(`  curl -H "Authorization: Bearer $TIDINGS_TOKEN" ${gatewayUrls[0]}/v1/inbox`)
  say('')
  say(
    h(
      `Produce a loan decision for ${DEMO_USER} (key = borrower id; decisions: APPROVED REJECTED NEEDS_INFO DISBURSED):`,
    ),
  )
  for (const line of produce) say(`  ${line}`)
  if (jaeger) {
    say(`  traced from the producer on (its span is the trace's root; without it the dispatcher's is):`)
    say(`    OTEL_TRACES_EXPORTER=otlp OTEL_EXPORTER_OTLP_ENDPOINT=${jaeger.otlpHttpUrl} ${produce[0]}`)
  }
  say(
    `  or with Kafka's CLI: kafka-console-producer.sh --bootstrap-server ${kafkaBrokers[0]} --topic ${TOPICS.loanDecisions} \\`,
  )
  say(
    `    --property parse.key=true --property 'key.separator=|'   then type  ${DEMO_USER}|${JSON.stringify(event)}`,
  )
  say('')
  say(`Logs also in ${logDir}. Ctrl-C stops everything.`)
}

main().catch((error: unknown) => {
  process.stderr.write(
    `${paint('red', 'tidings stack failed to start:')} ${(error as Error).message ?? error}\n`,
  )
  void shutdown('start-up failed', 1)
})
