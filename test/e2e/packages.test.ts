// @tidings/client and @tidings/contracts as other teams get them: packed with `pnpm pack` (what a
// publish uploads), installed with npm into a fresh project outside the workspace, and used from plain
// Node programs against a real gateway + dispatcher: the SDK connects and receives the notification the
// contracts helper produced. The same project type-checks a TypeScript consumer against the shipped
// .d.ts (nodenext, no skipLibCheck) and require()s the CommonJS entry. Then the SDK's browser bundle
// (esbuild, from the installed package) is held to a size budget and run in a node:vm context that has
// no Node globals — only WebSocket, fetch and timers — where it receives a notification too.
import assert from 'node:assert/strict'
import { execFileSync, spawn } from 'node:child_process'
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { after, before, test } from 'node:test'
import vm from 'node:vm'
import { gzipSync } from 'node:zlib'
import { createEventProducer } from '@tidings/contracts'
import { build } from 'esbuild'
import type { Producer } from 'kafkajs'
import { infraFromEnv, uniqueName, waitFor } from '../infra/index.ts'
import { signUserToken } from '../support/tokens.ts'
import { repoRoot } from './processes.ts'
import { type Stack, startStackAndProducer } from './stack.ts'

/** The SDK's browser bundle (minified ESM, everything it imports), gzipped: stated in packages/client/README.md. */
const SDK_GZIP_BUDGET_BYTES = 10 * 1024

const { kafkaBrokers, redisUrl } = infraFromEnv()
let stack: Stack
let producer: Producer
let project: string

function packageVersion(dir: string): string {
  return (JSON.parse(readFileSync(join(repoRoot, dir, 'package.json'), 'utf8')) as { version: string })
    .version
}

before(async () => {
  ;({ stack, producer } = await startStackAndProducer({
    redisUrl,
    kafkaBrokers,
    gateways: 1,
    name: 'packages',
  }))
  project = mkdtempSync(join(tmpdir(), 'tidings-packed-'))
  for (const dir of ['packages/client', 'packages/contracts']) {
    execFileSync('pnpm', ['pack', '--pack-destination', project], { cwd: join(repoRoot, dir), stdio: 'pipe' })
  }
  writeFileSync(
    join(project, 'package.json'),
    JSON.stringify({
      name: 'outside-the-workspace',
      private: true,
      type: 'module',
      dependencies: {
        '@tidings/client': `file:./tidings-client-${packageVersion('packages/client')}.tgz`,
        '@tidings/contracts': `file:./tidings-contracts-${packageVersion('packages/contracts')}.tgz`,
        kafkajs: '^2.2.4',
        '@types/node': '^24',
      },
    }),
  )
  execFileSync('npm', ['install', '--no-audit', '--no-fund', '--loglevel=error'], {
    cwd: project,
    stdio: 'pipe',
  })
})

after(async () => {
  await producer?.disconnect()
  await stack?.stop()
  if (project) rmSync(project, { recursive: true, force: true })
})

/** Runs a Node program in the project; resolves each stdout line as JSON through `lines`. */
function runNode(file: string, args: string[]) {
  const child = spawn(process.execPath, [file, ...args], {
    cwd: project,
    env: { PATH: process.env.PATH ?? '' },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  const lines: Record<string, unknown>[] = []
  let stderr = ''
  createInterface({ input: child.stdout }).on('line', (l) =>
    lines.push(JSON.parse(l) as Record<string, unknown>),
  )
  child.stderr.on('data', (c: Buffer) => {
    stderr += c.toString()
  })
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)))
  return { child, lines, exited, stderr: () => stderr }
}

const CONSUMER = `
import { createTidingsClient } from '@tidings/client'
const [url, token] = process.argv.slice(2)
const client = createTidingsClient({
  url,
  getToken: () => token,
  onNotification: async (n) => {
    console.log(JSON.stringify({ notification: n }))
    await client.close()
  },
})
await client.connect()
console.log(JSON.stringify({ connected: true }))
`
const PRODUCER = `
import { createEventProducer } from '@tidings/contracts'
import { Kafka, logLevel } from 'kafkajs'
const [brokers, topic, borrowerId] = process.argv.slice(2)
const producer = new Kafka({ clientId: 'loan-service', brokers: brokers.split(','), logLevel: logLevel.NOTHING }).producer()
await producer.connect()
const events = createEventProducer(producer, { topics: { loanDecisions: topic } })
const eventId = await events.loanDecision({ borrowerId, loanId: 'L-77', decision: 'APPROVED', amount: { value: 50000, currency: 'BDT' } })
console.log(JSON.stringify({ eventId }))
await producer.disconnect()
`
const TYPED = `
import { createTidingsClient, type NotificationFrame, TidingsError } from '@tidings/client'
import { LoanDecisionEvent, loanDecision, type ServerFrame, validateLoanDecision } from '@tidings/contracts'
const frame: ServerFrame = { type: 'pong' }
const built = loanDecision({ borrowerId: 'b-1', loanId: 'L-1', decision: 'APPROVED' })
const ok: boolean = validateLoanDecision(JSON.parse(built.value)).ok
const schemaKind: string = LoanDecisionEvent.type
const client = createTidingsClient({ url: 'wss://x', getToken: () => 't' })
client.on('notification', (n: NotificationFrame) => n.seq)
export { frame, ok, schemaKind, TidingsError }
`

test('packed SDK and contracts, installed outside the workspace: produce with the helper, receive with the SDK', async () => {
  writeFileSync(join(project, 'consumer.mjs'), CONSUMER)
  writeFileSync(join(project, 'producer.mjs'), PRODUCER)
  const user = uniqueName('packed-user')
  const consumer = runNode('consumer.mjs', [stack.gateways[0]!.baseUrl, await signUserToken(user)])
  try {
    await waitFor(() => consumer.lines.some((l) => l.connected), {
      timeoutMs: 30_000,
      message: 'the SDK connected',
    })
    const prod = runNode('producer.mjs', [kafkaBrokers.join(','), stack.topics.loanDecisions, user])
    assert.equal(await prod.exited, 0, prod.stderr())
    const eventId = prod.lines[0]?.eventId
    assert.equal(typeof eventId, 'string')
    assert.equal(await consumer.exited, 0, consumer.stderr()) // it exits after close()
    const n = consumer.lines.find((l) => l.notification)?.notification as Record<string, unknown>
    assert.equal(n.seq, 1)
    assert.equal(n.kind, 'loan.decision')
    assert.deepEqual(n.data, {
      loanId: 'L-77',
      decision: 'APPROVED',
      amount: { value: 50000, currency: 'BDT' },
    })
  } finally {
    consumer.child.kill()
  }
})

test('the shipped .d.ts type-check a consumer (nodenext, no skipLibCheck) and the CommonJS entry loads', () => {
  writeFileSync(join(project, 'typed.ts'), TYPED)
  writeFileSync(
    join(project, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: {
        module: 'nodenext',
        moduleResolution: 'nodenext',
        target: 'es2022',
        lib: ['es2022', 'dom'],
        strict: true,
        noEmit: true,
        skipLibCheck: false,
        types: ['node'],
      },
      files: ['typed.ts'],
    }),
  )
  // tsc keeps `./x.ts` in emitted .d.ts (microsoft/TypeScript#61037); the build rewrites them
  for (const pkg of ['client', 'contracts']) {
    const dir = join(project, 'node_modules/@tidings', pkg, 'dist')
    for (const f of readdirSync(dir).filter((n) => n.endsWith('.d.ts'))) {
      assert.doesNotMatch(readFileSync(join(dir, f), 'utf8'), /from '\.{1,2}\/[^']*\.ts'/, `${pkg}/dist/${f}`)
    }
  }
  const tsc = join(repoRoot, 'node_modules/typescript/bin/tsc')
  try {
    execFileSync(process.execPath, [tsc, '-p', project], { cwd: project, stdio: 'pipe' })
  } catch (e) {
    assert.fail(`tsc failed:\n${String((e as { stdout?: Buffer }).stdout)}`)
  }
  const out = execFileSync(
    process.execPath,
    [
      '-e',
      "const c = require('@tidings/client'); console.log(typeof c.createTidingsClient, typeof c.TidingsError)",
    ],
    { cwd: project, encoding: 'utf8' },
  )
  assert.equal(out.trim(), 'function function')
})

test(`the SDK's browser bundle is within ${SDK_GZIP_BUDGET_BYTES} bytes gzipped and runs with no Node globals`, async (t) => {
  const bundle = async (format: 'esm' | 'iife') =>
    (
      await build({
        stdin: { contents: "export * from '@tidings/client'", resolveDir: project },
        bundle: true,
        minify: true,
        format,
        globalName: 'Tidings',
        platform: 'browser',
        target: 'es2022',
        write: false,
        logLevel: 'silent',
      })
    ).outputFiles[0]!.text
  const esm = await bundle('esm')
  const gzipped = gzipSync(esm, { level: 9 }).length
  t.diagnostic(
    `SDK bundle: ${esm.length} bytes minified, ${gzipped} bytes gzipped (budget ${SDK_GZIP_BUDGET_BYTES})`,
  )
  assert.ok(gzipped <= SDK_GZIP_BUDGET_BYTES, `${gzipped} bytes gzipped > budget ${SDK_GZIP_BUDGET_BYTES}`)

  // A context with only what a browser / React Native gives the SDK: no process, require, Buffer, module.
  const received: Record<string, unknown>[] = []
  const sandbox = {
    WebSocket: globalThis.WebSocket,
    fetch: globalThis.fetch,
    setTimeout,
    clearTimeout,
    queueMicrotask,
    console,
    report: (json: string) => received.push(JSON.parse(json) as Record<string, unknown>),
  }
  const context = vm.createContext(sandbox)
  assert.equal(
    vm.runInContext('typeof process + typeof require + typeof Buffer + typeof module', context),
    'undefinedundefinedundefinedundefined',
  )
  vm.runInContext(await bundle('iife'), context)
  const user = uniqueName('vm-user')
  const token = await signUserToken(user)
  const connected = vm.runInContext(
    `(() => {
      const client = Tidings.createTidingsClient({
        url: ${JSON.stringify(stack.gateways[0]!.baseUrl)},
        getToken: () => ${JSON.stringify(token)},
        onNotification: (n) => report(JSON.stringify(n)),
      })
      globalThis.client = client
      return client.connect().then(() => 'connected')
    })()`,
    context,
  ) as Promise<string>
  assert.equal(await connected, 'connected')
  const events = createEventProducer(producer, { topics: { loanDecisions: stack.topics.loanDecisions } })
  await events.loanDecision({ borrowerId: user, loanId: 'L-8', decision: 'DISBURSED' })
  await waitFor(() => received.length === 1, {
    timeoutMs: 30_000,
    message: 'the notification in the vm context',
  })
  assert.equal(received[0]?.seq, 1)
  assert.deepEqual(received[0]?.data, { loanId: 'L-8', decision: 'DISBURSED' })
  await (vm.runInContext('client.close()', context) as Promise<void>)
})
