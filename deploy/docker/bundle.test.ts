// No Docker engine here, so CI proves what the image would run: the same bundle the Dockerfile
// builds (`pnpm deploy --prod`, compiled to JavaScript), started with plain `node` against the real
// Kafka and Redis, delivers an event to a WebSocket client — and carries no tests, no TypeScript,
// no development dependency.
import assert from 'node:assert/strict'
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { connectProducer, loanDecision, produce } from '@tidings/test/e2e/kafka'
import { type ServiceProcess, serviceProcess } from '@tidings/test/e2e/processes'
import { type StackTopics, testDispatcherEnv, testGatewayEnv } from '@tidings/test/e2e/stack'
import { connectUser, newUserId } from '@tidings/test/e2e/users'
import { createTopics, infraFromEnv, uniqueName } from '@tidings/test/infra'
import type { Producer } from 'kafkajs'
import { bundle, SERVICES } from './bundle.ts'

const repoRoot = fileURLToPath(new URL('../../', import.meta.url))
const out = mkdtempSync(join(tmpdir(), 'tidings-bundle-'))
let gateway: ServiceProcess
let dispatcher: ServiceProcess
let producer: Producer
let topics: StackTopics

function files(dir: string, acc: string[] = []): string[] {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, e.name)
    if (e.isDirectory()) files(path, acc)
    else acc.push(path)
  }
  return acc
}

before(async () => {
  await bundle(out)
  const { kafkaBrokers, redisUrl } = infraFromEnv()
  topics = {
    loanDecisions: uniqueName('bundle.loan.decisions'),
    notificationsRequested: uniqueName('bundle.notifications.requested'),
    deadLetter: uniqueName('bundle.notifications.dlq'),
  }
  await createTopics(kafkaBrokers, [topics.loanDecisions, topics.notificationsRequested], 2)
  await createTopics(kafkaBrokers, [topics.deadLetter], 1)
  const groupId = uniqueName('bundle-dispatcher')
  gateway = serviceProcess({
    name: 'bundle-gateway',
    entry: join(out, 'gateway/src/main.js'),
    env: { ...testGatewayEnv(redisUrl, 'bundle-gw'), NODE_ENV: 'production' },
    logDir: out,
    portEnv: 'PORT',
  })
  dispatcher = serviceProcess({
    name: 'bundle-dispatcher',
    entry: join(out, 'dispatcher/src/main.js'),
    env: { ...testDispatcherEnv(redisUrl, kafkaBrokers, topics, groupId, 2), NODE_ENV: 'production' },
    logDir: out,
    portEnv: 'HTTP_PORT',
    nodeOptions: ['--disable-warning=TimeoutNegativeWarning'],
  })
  ;[producer] = await Promise.all([connectProducer(kafkaBrokers), gateway.start(), dispatcher.start()])
})

after(async () => {
  await producer?.disconnect()
  await Promise.allSettled([gateway?.stop(), dispatcher?.stop()])
  rmSync(out, { recursive: true, force: true })
})

test('both services start from the bundle with plain node and an event reaches a socket', async () => {
  const user = newUserId('bundle')
  const socket = await connectUser(gateway.baseUrl, user)
  try {
    const sent = loanDecision(user)
    await produce(producer, topics.loanDecisions, user, sent)
    const n = await socket.next('notification')
    assert.equal(n.data?.loanId, sent.loanId)
  } finally {
    socket.close()
  }
})

test('bundling leaves the workspace alone (pnpm deploy hard-links files to the sources)', () => {
  for (const dir of ['packages/runtime', 'packages/delivery', 'packages/contracts', 'services/gateway']) {
    const manifest = JSON.parse(readFileSync(join(repoRoot, dir, 'package.json'), 'utf8')) as {
      exports: object
    }
    assert.match(JSON.stringify(manifest.exports), /\.ts"/, `${dir}/package.json was rewritten`)
    assert.ok(
      existsSync(join(repoRoot, dir, 'src/index.ts')) || existsSync(join(repoRoot, dir, 'src/main.ts')),
    )
  }
})

test('the bundle holds no TypeScript, no tests and no development dependency', () => {
  for (const service of SERVICES) {
    const all = files(join(out, service))
    const ours = all.filter((f) => !f.includes('/node_modules/') || f.includes('/@tidings/'))
    assert.deepEqual(
      ours.filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts')),
      [],
      `${service}: .ts left`,
    )
    assert.deepEqual(
      all.filter((f) => /\.test\.[jt]s$|test-support|\/testing(\.js$|\/)/.test(f) && f.includes('@tidings')),
      [],
      `${service}: test files shipped`,
    )
    assert.ok(existsSync(join(out, service, 'src/main.js')))
    // the image's `--import` (Dockerfile CMD, docker-compose.yml): the tracing switch, compiled
    assert.ok(
      existsSync(join(out, service, 'node_modules/@tidings/runtime/src/otel.js')),
      `${service}: otel.js`,
    )
    const store = readdirSync(join(out, service, 'node_modules/.pnpm'))
    for (const dev of ['typescript@', '@biomejs+', 'turbo@', '@tidings+test@', 'playwright-core@'])
      assert.ok(!store.some((p) => p.startsWith(dev)), `${service}: ${dev} shipped`)
  }
})
