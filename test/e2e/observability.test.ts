// The operator's side: the alert rules pass promtool (syntax and unit tests), and every metric a
// dashboard panel or an alert rule queries is exported by a live stack — from the first scrape, at
// zero — with no user id anywhere in the metrics.
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { after, afterEach, before, test } from 'node:test'
import { promisify } from 'node:util'
import type { NotificationFrame } from '@tidings/contracts'
import type { Producer } from 'kafkajs'
import { infraFromEnv, uniqueName, waitFor } from '../infra/index.ts'
import { loanDecision, produce } from './kafka.ts'
import { repoRoot } from './processes.ts'
import { type Stack, startStackAndProducer } from './stack.ts'
import { connectUser, newUserId } from './users.ts'

const run = promisify(execFile)
const rulesDir = join(repoRoot, 'deploy/prometheus')
const rulesFile = join(rulesDir, 'tidings-rules.yaml')
const dashboardFile = join(repoRoot, 'deploy/grafana/tidings-dashboard.json')

async function promtool(args: string[], cwd = repoRoot): Promise<string> {
  // built from the Go module proxy and cached (bootstrap builds it before the tests)
  const { stdout: path } = await run(join(repoRoot, 'scripts/go-tool'), ['path', 'promtool'])
  try {
    const { stdout, stderr } = await run(path.trim(), args, { cwd })
    return stdout + stderr
  } catch (error) {
    const e = error as { stdout?: string; stderr?: string; message: string }
    assert.fail(`promtool ${args.join(' ')} failed:\n${e.stdout ?? ''}${e.stderr ?? ''}${e.message}`)
  }
}

/** Every `tidings_*` series name a PromQL expression reads (histogram suffixes included). */
function metricNames(expressions: string[]): Set<string> {
  const names = new Set<string>()
  for (const expr of expressions) for (const m of expr.matchAll(/\btidings_[a-z0-9_]+/g)) names.add(m[0])
  return names
}

function dashboardExpressions(): string[] {
  const dashboard = JSON.parse(readFileSync(dashboardFile, 'utf8')) as {
    panels: Array<{ targets?: Array<{ expr: string }> }>
  }
  return dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => t.expr))
}

function ruleExpressions(): string[] {
  // the rule file's `expr: |` blocks (YAML is not parsed here: no YAML library in the test kit)
  const text = readFileSync(rulesFile, 'utf8')
  return [...text.matchAll(/expr: \|\n((?:\s{10}.*\n)+)/g)].map((m) => m[1]!)
}

test('promtool: the rules file is valid and its unit tests pass', async () => {
  const check = await promtool(['check', 'rules', rulesFile])
  const rules = readFileSync(rulesFile, 'utf8').match(/^\s+- alert: /gm)?.length
  assert.ok(rules && rules >= 6, `alert rules in the file: ${rules}`)
  assert.match(check, new RegExp(`SUCCESS: ${rules} rules found`))
  const unit = await promtool(['test', 'rules', 'tidings-rules.test.yaml'], rulesDir)
  assert.match(unit, /SUCCESS/)
})

let stack: Stack
let producer: Producer

before(async () => {
  const { kafkaBrokers, redisUrl } = infraFromEnv()
  ;({ stack, producer } = await startStackAndProducer({
    name: 'e2e-observability',
    redisUrl,
    kafkaBrokers,
    gateways: 1,
    // the push hand-off's metrics exist only with it on (a rule queries them)
    dispatcherEnv: { PUSH_TOPIC: uniqueName('e2e.observability.push') },
  }))
})

afterEach((t) => stack?.check(t))

after(async () => {
  await producer?.disconnect()
  await stack?.stop()
})

const scrape = async (baseUrl: string): Promise<string> => {
  const res = await fetch(`${baseUrl}/metrics`)
  assert.equal(res.status, 200)
  return res.text()
}

/** The series names of a Prometheus text exposition. */
const exported = (text: string): Set<string> =>
  new Set(
    text
      .split('\n')
      .filter((l) => l !== '' && !l.startsWith('#'))
      .map((l) => l.split(/[{ ]/)[0]!),
  )

test('every metric a dashboard panel or an alert rule queries is on a live stack, with no user id', async () => {
  const [gateway] = stack.gateways
  const dispatcher = stack.dispatcher!
  // a fresh stack: nothing happened yet, and the series must exist all the same
  const fresh = new Set([
    ...exported(await scrape(gateway!.baseUrl)),
    ...exported(await scrape(dispatcher.baseUrl)),
  ])
  const queried = metricNames([...dashboardExpressions(), ...ruleExpressions()])
  assert.ok(queried.size > 20, `found only ${queried.size} metrics in the dashboard and rules`)
  const missing = [...queried].filter((name) => !fresh.has(name))
  assert.deepEqual(missing, [], `queried but not exported: ${missing.join(', ')}`)

  // one delivery later: still no user id in any label
  const user = newUserId('metrics')
  const socket = await connectUser(gateway!.baseUrl, user)
  try {
    await produce(producer, stack.topics.loanDecisions, user, loanDecision(user))
    const frame = (await socket.next('notification', 30_000)) as NotificationFrame
    socket.send({ type: 'ack', seq: frame.seq, epoch: socket.welcome.epoch })
    const after = await waitFor(
      async () => {
        const text = await scrape(gateway!.baseUrl)
        // the live delivery's age was observed: the histogram moved
        return /tidings_delivery_age_seconds_count\{[^}]*path="live"[^}]*\} [1-9]/.test(text)
          ? text
          : undefined
      },
      { timeoutMs: 30_000, message: 'tidings_delivery_age_seconds{path="live"} never counted the delivery' },
    )
    const dispatcherText = await scrape(dispatcher.baseUrl)
    assert.match(dispatcherText, /tidings_dispatcher_event_age_seconds_count\{[^}]*\} [1-9]/)
    assert.match(dispatcherText, /tidings_dispatcher_consumer_lag\{[^}]*partition="0"[^}]*\} \d+/)
    assert.match(dispatcherText, /tidings_build_info\{[^}]*version="[^"]+"/)
    assert.match(after, /tidings_connections\{[^}]*transport="ws"[^}]*\} 1/)
    for (const text of [after, dispatcherText]) assert.ok(!text.includes(user), 'a user id in the metrics')
  } finally {
    await socket.close()
  }
})
