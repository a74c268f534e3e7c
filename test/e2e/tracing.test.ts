// One event, one trace, across real processes and a real Jaeger: the producer helper's span, the
// dispatcher's process span (and its Redis write), the gateway's deliver span on the pod holding
// the socket, and the ack. The dispatcher exports OTLP http/protobuf, the gateways http/json, so
// both protocols are exercised. Found through Jaeger's own query API, as an operator would.
import assert from 'node:assert/strict'
import { after, afterEach, before, test } from 'node:test'
import { context, trace } from '@opentelemetry/api'
import { createEventProducer, type NotificationFrame, type PushRequest } from '@tidings/contracts'
import { shutdownTracing } from '@tidings/runtime'
import { startTracing } from '@tidings/runtime/otel-sdk'
import type { Producer } from 'kafkajs'
import { infraFromEnv, type JaegerServer, startJaeger, uniqueName, waitFor } from '../infra/index.ts'
import { openSse } from '../support/sse-client.ts'
import { signUserToken } from '../support/tokens.ts'
import { collectTopic, loanDecision, produce } from './kafka.ts'
import { type Stack, startStackAndProducer } from './stack.ts'
import { connectUser, newUserId } from './users.ts'

interface JaegerSpan {
  traceID: string
  spanID: string
  operationName: string
  references: Array<{ refType: string; traceID: string; spanID: string }>
  tags: Array<{ key: string; value: unknown }>
  processID: string
}
interface JaegerTrace {
  traceID: string
  spans: JaegerSpan[]
  processes: Record<string, { serviceName: string }>
}

const PRODUCER_SERVICE = 'loan-service-e2e'
const pushTopic = uniqueName('e2e.tracing.push')

let jaeger: JaegerServer
let stack: Stack
let producer: Producer

function otelEnv(protocol: 'http/protobuf' | 'http/json'): Record<string, string> {
  return {
    OTEL_TRACES_EXPORTER: 'otlp',
    OTEL_EXPORTER_OTLP_ENDPOINT: jaeger.otlpHttpUrl,
    OTEL_EXPORTER_OTLP_PROTOCOL: protocol,
    // export within a fraction of a second, so the test waits less
    OTEL_BSP_SCHEDULE_DELAY: '100',
  }
}

before(async () => {
  jaeger = await startJaeger()
  // this process is the "backend service": its producer helper spans go to the same Jaeger
  Object.assign(process.env, otelEnv('http/protobuf'), { OTEL_SERVICE_NAME: PRODUCER_SERVICE })
  await startTracing()
  ;({ stack, producer } = await startStackAndProducer({
    name: 'e2e-tracing',
    redisUrl: infraFromEnv().redisUrl,
    kafkaBrokers: infraFromEnv().kafkaBrokers,
    gateways: 2,
    dispatcherEnv: { ...otelEnv('http/protobuf'), PUSH_TOPIC: pushTopic, PUSH_AFTER_MS: '60000' },
    gatewayEnv: otelEnv('http/json'),
  }))
})

afterEach((t) => stack?.check(t))

after(async () => {
  await producer?.disconnect()
  await stack?.stop()
  await shutdownTracing()
  await jaeger?.stop()
})

async function jaegerGet<T>(path: string): Promise<T> {
  const res = await fetch(`${jaeger.queryUrl}${path}`, { signal: AbortSignal.timeout(5000) })
  const body = (await res.json()) as { data: T }
  return body.data
}

/** Polls Jaeger until the trace has what `complete` wants (spans arrive from 4 processes). */
async function traceWhen(
  traceId: string,
  complete: (t: JaegerTrace) => boolean,
  what: string,
): Promise<JaegerTrace> {
  return waitFor(
    async () => {
      const res = await fetch(`${jaeger.queryUrl}/api/traces/${traceId}`, {
        signal: AbortSignal.timeout(5000),
      })
      if (res.status !== 200) throw new Error(`trace ${traceId}: HTTP ${res.status}`)
      const found = ((await res.json()) as { data: JaegerTrace[] }).data[0]
      // thrown, not returned: waitFor reports the last error, i.e. what the trace held at the end
      if (!found || !complete(found)) throw new Error(`the trace so far: ${found ? describe(found) : 'none'}`)
      return found
    },
    { timeoutMs: 60_000, message: what },
  )
}

const service = (t: JaegerTrace, s: JaegerSpan): string => t.processes[s.processID]?.serviceName ?? '?'
const parentOf = (s: JaegerSpan): string | undefined =>
  s.references.find((r) => r.refType === 'CHILD_OF')?.spanID
const tag = (s: JaegerSpan, key: string): unknown => s.tags.find((t) => t.key === key)?.value
const spansOf = (t: JaegerTrace, svc: string, op: string | RegExp): JaegerSpan[] =>
  t.spans.filter(
    (s) =>
      service(t, s) === svc && (typeof op === 'string' ? s.operationName === op : op.test(s.operationName)),
  )
function describe(t: JaegerTrace): string {
  return t.spans
    .map((s) => `${service(t, s)}:${s.operationName}(${s.spanID}<-${parentOf(s) ?? 'root'})`)
    .join(' ')
}

test('an event produced by the producer helper is one trace: producer → dispatcher → gateway → ack', async () => {
  const user = newUserId('traced')
  // the gateway that holds the socket is the second one: the trace must say which pod pushed
  const socket = await connectUser(stack.gateways[1]!.baseUrl, user)
  try {
    const events = createEventProducer(producer, { topics: { loanDecisions: stack.topics.loanDecisions } })
    const root = trace.getTracer('e2e').startSpan('approve loan')
    await context.with(trace.setSpan(context.active(), root), () =>
      events.loanDecision({ borrowerId: user, loanId: 'L-traced', decision: 'APPROVED' }),
    )
    root.end()
    const traceId = root.spanContext().traceId

    const frame = (await socket.next('notification', 30_000)) as NotificationFrame
    assert.equal(frame.data.loanId, 'L-traced')
    // the trace context and the Kafka timestamp stay inside Tidings
    const raw = JSON.stringify(socket.frames)
    assert.doesNotMatch(raw, /traceparent|00-[0-9a-f]{32}-|"@/)
    socket.send({ type: 'ack', seq: frame.seq, epoch: socket.welcome.epoch })

    const t = await traceWhen(
      traceId,
      // four processes export on their own schedules: wait for every part
      (x) =>
        spansOf(x, PRODUCER_SERVICE, `send ${stack.topics.loanDecisions}`).length > 0 &&
        spansOf(x, 'tidings-dispatcher', `process ${stack.topics.loanDecisions}`).length > 0 &&
        spansOf(x, 'tidings-dispatcher', 'evalsha').length > 0 &&
        spansOf(x, 'tidings-gateway', 'deliver notification').length > 0 &&
        spansOf(x, 'tidings-gateway', 'ack').length > 0,
      'the trace never had the producer, dispatcher, gateway deliver and ack spans',
    )
    const [send] = spansOf(t, PRODUCER_SERVICE, `send ${stack.topics.loanDecisions}`)
    const [process] = spansOf(t, 'tidings-dispatcher', `process ${stack.topics.loanDecisions}`)
    const delivers = spansOf(t, 'tidings-gateway', 'deliver notification')
    const [ack] = spansOf(t, 'tidings-gateway', 'ack')
    assert.ok(send && process && ack, describe(t))
    // parent order: approve loan → send → process → deliver, and the ack under the same process span
    assert.equal(parentOf(send), root.spanContext().spanId)
    assert.equal(parentOf(process), send.spanID, 'the dispatcher continues the producer span')
    assert.equal(delivers.length, 1, `one deliver span, on the pod holding the socket: ${describe(t)}`)
    assert.equal(parentOf(delivers[0]!), process.spanID)
    assert.equal(tag(delivers[0]!, 'tidings.pod'), 'e2e-tracing-gw-2')
    assert.equal(tag(delivers[0]!, 'tidings.path'), 'live')
    assert.equal(parentOf(ack), process.spanID)
    assert.equal(tag(ack, 'tidings.seq'), frame.seq)
    // the Redis write (ioredis instrumentation) is inside the dispatcher's span
    assert.ok(
      t.spans.some((s) => service(t, s) === 'tidings-dispatcher' && parentOf(s) === process.spanID),
      `no child span of the dispatcher's process span: ${describe(t)}`,
    )
    assert.equal(tag(process, 'tidings.outcome'), 'delivered')
  } finally {
    await socket.close()
  }
})

test('an event without traceparent gets a trace rooted at the dispatcher; replay, SSE and REST join it', async () => {
  const user = newUserId('untraced')
  // a producer that knows nothing of tracing: a plain record, no headers at all
  await produce(producer, stack.topics.loanDecisions, user, loanDecision(user, { loanId: 'L-plain' }))
  const found = await waitFor(
    async () => {
      const tags = encodeURIComponent(JSON.stringify({ 'messaging.kafka.message.key': user }))
      // the event's own trace (the push request of this offline user is keyed by it too)
      const operation = encodeURIComponent(`process ${stack.topics.loanDecisions}`)
      const traces = await jaegerGet<JaegerTrace[]>(
        `/api/traces?service=tidings-dispatcher&operation=${operation}&tags=${tags}&limit=5`,
      )
      return traces.length > 0 ? traces : undefined
    },
    { timeoutMs: 60_000, message: 'the dispatcher span of the untraced event never reached Jaeger' },
  )
  assert.equal(found.length, 1, 'one trace')
  const traceId = found[0]!.traceID
  const [process] = spansOf(found[0]!, 'tidings-dispatcher', `process ${stack.topics.loanDecisions}`)
  assert.ok(process)
  assert.equal(parentOf(process), undefined, 'the dispatcher span is the root')

  // the user was offline: the notification is replayed on connect, and read over REST
  const socket = await connectUser(stack.gateways[0]!.baseUrl, user)
  try {
    const frame = (await socket.next('notification', 30_000)) as NotificationFrame
    assert.equal(frame.data.loanId, 'L-plain')
  } finally {
    await socket.close()
  }
  // and over SSE, from the other pod: a replay too, on the SSE transport
  const sse = await openSse(`${stack.gateways[1]!.baseUrl}/v1/sse`, {
    authorization: `Bearer ${await signUserToken(user)}`,
  })
  try {
    const event = await sse.next('notification', 30_000)
    assert.equal((JSON.parse(event.data) as NotificationFrame).data.loanId, 'L-plain')
    assert.doesNotMatch(sse.events.map((e) => e.data).join('\n'), /traceparent|"@/)
  } finally {
    sse.close()
  }
  const res = await fetch(`${stack.gateways[1]!.baseUrl}/v1/inbox`, {
    headers: { authorization: `Bearer ${await signUserToken(user)}` },
  })
  const inbox = (await res.json()) as { notifications: Array<Record<string, unknown>> }
  assert.equal(inbox.notifications.length, 1)
  assert.deepEqual(Object.keys(inbox.notifications[0]!).sort(), [
    'body',
    'createdAt',
    'data',
    'id',
    'kind',
    'seq',
    'title',
  ])

  const t = await traceWhen(
    traceId,
    (x) => {
      const seen = spansOf(x, 'tidings-gateway', 'deliver notification').map(
        (s) => `${tag(s, 'tidings.path')}/${tag(s, 'tidings.transport')}`,
      )
      return seen.includes('replay/ws') && seen.includes('replay/sse') && seen.includes('rest/rest')
    },
    'the replay (WebSocket, SSE) and REST deliver spans never joined the trace',
  )
  for (const s of spansOf(t, 'tidings-gateway', 'deliver notification'))
    assert.equal(parentOf(s), process.spanID)
  // the HTTP requests themselves are traced too (@fastify/otel), probes and scrapes are not
  const operations = await waitFor(
    async () => {
      const ops = await jaegerGet<string[]>('/api/services/tidings-gateway/operations')
      return ops.some((op) => op.includes('/v1/inbox')) ? ops : undefined
    },
    { timeoutMs: 30_000, message: 'no span of GET /v1/inbox from @fastify/otel' },
  )
  assert.ok(!operations.some((op) => /readyz|healthz|metrics/.test(op)), operations.join(', '))
})

test('a broadcast is one trace with a deliver span per pod; kafkajs batch polls make no traces', async () => {
  const topic = `news-${Date.now()}`
  const sockets = await Promise.all(
    stack.gateways.map(async (g, i) => {
      const listener = newUserId(`listener${i}`)
      const s = await connectUser(g.baseUrl, listener, {
        token: await signUserToken(listener, { topics: [topic] }),
      })
      s.send({ type: 'subscribe', topic })
      await s.next('subscribed')
      return s
    }),
  )
  try {
    const events = createEventProducer(producer, {
      topics: { notificationsRequested: stack.topics.notificationsRequested },
    })
    const root = trace.getTracer('e2e').startSpan('announce')
    await context.with(trace.setSpan(context.active(), root), () =>
      events.broadcast({ topic, kind: 'announcement', title: 'Maintenance', body: 'Tonight 2am' }),
    )
    root.end()
    for (const s of sockets) await s.next('broadcast', 30_000)
    const t = await traceWhen(
      root.spanContext().traceId,
      (x) =>
        spansOf(x, 'tidings-gateway', 'deliver broadcast').length === 2 &&
        spansOf(x, 'tidings-dispatcher', `process ${stack.topics.notificationsRequested}`).length === 1,
      'not one deliver span per pod',
    )
    const delivers = spansOf(t, 'tidings-gateway', 'deliver broadcast')
    assert.deepEqual(delivers.map((s) => tag(s, 'tidings.pod')).sort(), [
      'e2e-tracing-gw-1',
      'e2e-tracing-gw-2',
    ])
    const [process] = spansOf(t, 'tidings-dispatcher', `process ${stack.topics.notificationsRequested}`)
    for (const d of delivers) assert.equal(parentOf(d), process!.spanID)
  } finally {
    await Promise.all(sockets.map((s) => s.close()))
  }
  const operations = await jaegerGet<string[]>('/api/services/tidings-dispatcher/operations')
  assert.ok(operations.length > 0)
  assert.ok(!operations.some((op) => op.startsWith('poll ')), `kafkajs poll spans: ${operations.join(', ')}`)
})

test('a push request (the borrower is offline) carries the event’s trace context', async (t) => {
  const pushes = await collectTopic(
    infraFromEnv().kafkaBrokers,
    pushTopic,
    (r) => JSON.parse(String(r.value)) as PushRequest,
  )
  t.after(() => pushes.stop())
  const user = newUserId('traced-push')
  const events = createEventProducer(producer, { topics: { loanDecisions: stack.topics.loanDecisions } })
  const root = trace.getTracer('e2e').startSpan('approve loan offline')
  await context.with(trace.setSpan(context.active(), root), () =>
    events.loanDecision({ borrowerId: user, loanId: 'L-push', decision: 'APPROVED' }),
  )
  root.end()
  const push = await waitFor(() => pushes.records.find((p) => p.userId === user), {
    timeoutMs: 30_000,
    message: 'a push request for the offline borrower',
  })
  assert.equal(push.traceparent?.split('-')[1], root.spanContext().traceId)
})
