// The borrower page in a real browser (Debian's chromium, headless, driven by playwright-core) against
// the real system: a private Redis, one dispatcher and two gateway processes, the demo server, and a
// kafkajs producer sending loan decisions the way a loan service does.
//
// Produce → banner times are reported (t.diagnostic), not asserted: a timed assertion fails on a
// loaded machine for no fault of the code. The latency figures are proven by `pnpm bench` (e2e).
import assert from 'node:assert/strict'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, afterEach, before, type TestContext, test } from 'node:test'
import { freePort } from '@tidings/test/e2e/processes'
import { type Stack, startStack } from '@tidings/test/e2e/stack'
import { infraFromEnv, type RedisServer, startRedis, uniqueName, waitFor } from '@tidings/test/infra'
import { signUserToken, TEST_JWT_SECRET } from '@tidings/test/support/tokens'
import { type Browser, chromium, type Page } from 'playwright-core'
import { connectEmitter, type DecisionEmitter } from './emit.ts'
import { type DemoServer, startDemoServer } from './server.ts'

const CHROMIUM = process.env.TIDINGS_CHROMIUM ?? '/usr/bin/chromium'
const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-quic',
  '--no-first-run',
]
const APPROVED_TEXT = 'Your loan application has been approved!'
/** Notifications kept per user while unacknowledged (default 1000): small, so that `missed` is easy to cause. */
const INBOX_CAP = 3

let redis: RedisServer | undefined
let stack: Stack | undefined
let demo: DemoServer | undefined
let emitter: DecisionEmitter | undefined
let browser: Browser | undefined
const artifacts = mkdtempSync(join(tmpdir(), 'tidings-borrower-demo-'))
let keepArtifacts = process.env.TIDINGS_E2E_KEEP_LOGS === '1'

before(async () => {
  // A missing browser is a failure with a remedy, never a skipped test.
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `${CHROMIUM} is missing: install Debian's chromium (apt-get install -y chromium; scripts/bootstrap ` +
        'should do it) or point TIDINGS_CHROMIUM at a Chromium binary',
    )
  }
  const { kafkaBrokers } = infraFromEnv()
  // the page's origin must be allowed by the gateways before they start: choose its port first
  const demoPort = await freePort()
  const launching = chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS })
  launching.catch(() => {}) // awaited below
  redis = await startRedis()
  stack = await startStack({
    name: 'demo-page',
    redisUrl: redis.url,
    kafkaBrokers,
    gateways: 2,
    gatewayEnv: { ALLOWED_ORIGINS: `http://127.0.0.1:${demoPort}` },
    dispatcherEnv: { INBOX_CAP: String(INBOX_CAP) },
  })
  emitter = await connectEmitter(kafkaBrokers, stack.topics.loanDecisions)
  demo = await startDemoServer({
    port: demoPort,
    gatewayUrls: stack.gateways.map((g) => g.baseUrl),
    jwtSecret: TEST_JWT_SECRET,
  })
  browser = await launching
})

afterEach((t) => stack?.check(t))

after(async () => {
  await browser?.close()
  await demo?.close()
  await emitter?.disconnect()
  await stack?.stop()
  await redis?.stop()
  if (!keepArtifacts) rmSync(artifacts, { recursive: true, force: true })
})

/** Records, in the page, when each banner state (`loan:decision`) and history row first appeared. */
async function watchDom(page: Page): Promise<void> {
  await page.evaluate(() => {
    const w = window as unknown as { shown: Record<string, number> }
    w.shown = {}
    const scan = () => {
      const now = Date.now()
      for (const el of document.querySelectorAll<HTMLElement>('.banner')) {
        w.shown[`banner:${el.dataset.loan}:${el.dataset.decision}`] ??= now
      }
      for (const el of document.querySelectorAll<HTMLElement>('#history li'))
        w.shown[`row:${el.dataset.id}`] ??= now
    }
    new MutationObserver(scan).observe(document.body, { subtree: true, childList: true, attributes: true })
    scan()
  })
}

/** Waits for the banner of `loanId` to show `decision`; returns when it appeared (page clock = this clock). */
async function bannerShownAt(
  page: Page,
  loanId: string,
  decision: string,
  timeoutMs = 15_000,
): Promise<number> {
  const key = `banner:${loanId}:${decision}`
  const handle = await page.waitForFunction(
    (k) => (window as unknown as { shown: Record<string, number> }).shown[k],
    key,
    { timeout: timeoutMs, polling: 10 },
  )
  return (await handle.jsonValue()) as number
}

interface Row {
  id: string
  seq: string
  title: string
}

const rows = (page: Page): Promise<Row[]> =>
  page.$$eval('#history li', (lis) =>
    lis.map((li) => ({
      id: (li as HTMLElement).dataset.id ?? '',
      seq: (li as HTMLElement).dataset.seq ?? '',
      title: li.querySelector('.title')?.textContent ?? '',
    })),
  )

const connection = (page: Page) =>
  page.$eval('#connection', (el) => ({
    state: (el as HTMLElement).dataset.state,
    gateway: (el as HTMLElement).dataset.gateway,
  }))

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN
}

test('a decision produced to Kafka is on the page (its latency reported); after a kill -9 of its gateway the page reconnects to the other one, nothing lost, nothing twice', async (t: TestContext) => {
  const context = await browser!.newContext({ viewport: { width: 900, height: 1000 } })
  const page = await context.newPage()
  const pageErrors: string[] = []
  page.on('pageerror', (e) => pageErrors.push(e.message))
  try {
    const borrower = uniqueName('b-demo')
    await page.goto(`${demo!.url}/?borrower=${encodeURIComponent(borrower)}`)
    await page.waitForSelector('#connection[data-state="open"]', { timeout: 15_000 })
    assert.equal(await page.textContent('#borrower'), borrower)
    await watchDom(page)

    // 1. live decisions, one at a time, each timed from just before the produce to the banner
    const latencies: number[] = []
    const decisions = ['APPROVED', 'NEEDS_INFO', 'REJECTED', 'APPROVED', 'APPROVED'] as const
    for (const [i, decision] of decisions.entries()) {
      const loanId = `L-${i + 1}`
      const producedAt = Date.now()
      await emitter!.send({
        borrowerId: borrower,
        loanId,
        decision,
        amount: { value: 50_000, currency: 'BDT' },
      })
      const shownAt = await bannerShownAt(page, loanId, decision)
      latencies.push(shownAt - producedAt)
    }
    t.diagnostic(
      `produce → banner: ${latencies.join(', ')} ms (median ${percentile(latencies, 50)}, max ${Math.max(...latencies)})`,
    )
    const approved = await page.textContent('.banner[data-loan="L-1"] h3')
    assert.equal(approved, APPROVED_TEXT)
    const needsInfo = await page.textContent('.banner[data-loan="L-2"] h3')
    assert.ok(
      needsInfo && needsInfo !== APPROVED_TEXT,
      `NEEDS_INFO shows the notification's own title: ${needsInfo}`,
    )
    let list = await rows(page)
    assert.equal(list.length, decisions.length)
    assert.deepEqual(
      list.map((r) => r.seq),
      ['5', '4', '3', '2', '1'],
      'the history is newest first',
    )

    const shot = join(artifacts, 'borrower-page.png')
    await page.screenshot({ path: shot, fullPage: true })
    t.diagnostic(
      `screenshot: ${shot}${keepArtifacts ? '' : ' (removed at the end; TIDINGS_E2E_KEEP_LOGS=1 keeps it)'}`,
    )

    // 2. kill -9 the gateway the page is on; a decision produced while the page is away is replayed
    //    on the other gateway, and a later one arrives live there — each shown once
    const before = await connection(page)
    assert.equal(before.state, 'open')
    const victim = stack!.gateways.find((g) => g.baseUrl === before.gateway)
    assert.ok(victim, `the page is on one of the gateways (${before.gateway})`)
    const survivor = stack!.gateways.find((g) => g !== victim)!
    const killedAt = Date.now()
    await victim.kill()
    await emitter!.send({ borrowerId: borrower, loanId: 'L-1', decision: 'DISBURSED' })
    await page.waitForFunction(
      (url) => {
        const el = document.getElementById('connection')
        return el?.dataset.state === 'open' && el.dataset.gateway === url
      },
      survivor.baseUrl,
      { timeout: 15_000, polling: 20 },
    )
    const reconnectMs = Date.now() - killedAt
    await bannerShownAt(page, 'L-1', 'DISBURSED')
    const producedAt = Date.now()
    await emitter!.send({ borrowerId: borrower, loanId: 'L-6', decision: 'APPROVED' })
    const liveMs = (await bannerShownAt(page, 'L-6', 'APPROVED')) - producedAt
    t.diagnostic(
      `kill -9 → page live on the other gateway: ${reconnectMs} ms; then produce → banner ${liveMs} ms`,
    )

    list = await rows(page)
    assert.equal(list.length, decisions.length + 2, `every notification shown once: ${JSON.stringify(list)}`)
    assert.equal(new Set(list.map((r) => r.id)).size, list.length, 'no row twice')
    assert.deepEqual(
      list.map((r) => r.seq),
      ['7', '6', '5', '4', '3', '2', '1'],
      'seqs 1..7, newest first: nothing lost across the failover',
    )
    // the banner of L-1 now shows its latest decision, with the notification's own title
    const disbursed = await page.textContent('.banner[data-loan="L-1"] h3')
    assert.ok(disbursed && disbursed !== APPROVED_TEXT, `L-1 moved on to DISBURSED: ${disbursed}`)
    assert.equal(await page.locator('.banner').count(), 6, 'one banner per loan')
    assert.deepEqual(pageErrors, [], 'no uncaught error in the page')
  } catch (error) {
    keepArtifacts = true
    await page.screenshot({ path: join(artifacts, 'failure.png'), fullPage: true }).catch(() => {})
    process.stderr.write(`\n[demo] failure screenshot in ${artifacts}\n`)
    throw error
  } finally {
    await context.close()
  }
})

test('missed: notifications trimmed while the page was away → the page refetches GET /v1/inbox and says so; each shown once', async (t: TestContext) => {
  for (const g of stack!.gateways) if (!g.running) await g.start() // one was SIGKILLed above
  const context = await browser!.newContext({ viewport: { width: 900, height: 1000 } })
  const page = await context.newPage()
  const pageErrors: string[] = []
  page.on('pageerror', (e) => pageErrors.push(e.message))
  try {
    const borrower = uniqueName('b-missed')
    const pageUrl = `${demo!.url}/?borrower=${encodeURIComponent(borrower)}`
    await page.goto(pageUrl)
    await page.waitForSelector('#connection[data-state="open"]', { timeout: 15_000 })
    await watchDom(page)
    await emitter!.send({ borrowerId: borrower, loanId: 'L-1', decision: 'APPROVED' })
    await bannerShownAt(page, 'L-1', 'APPROVED')
    // leave the page (the SDK acks what it handled on pagehide), let 5 decisions pile up: the inbox keeps 3
    await page.goto('about:blank')
    for (let i = 2; i <= 6; i++)
      await emitter!.send({ borrowerId: borrower, loanId: `L-${i}`, decision: 'NEEDS_INFO' })
    const token = await signUserToken(borrower)
    await waitFor(
      async () => {
        const res = await fetch(`${stack!.gateways[0]!.baseUrl}/v1/inbox`, {
          headers: { authorization: `Bearer ${token}` },
        })
        const inbox = (await res.json()) as { notifications: Array<{ seq: number }> }
        return inbox.notifications.at(-1)?.seq === 6
      },
      { timeoutMs: 15_000, message: 'the dispatcher stored all five' },
    )

    // back on the page (same browser profile: history and resume position are in localStorage)
    await page.goto(pageUrl)
    await page.waitForSelector('#notice:not([hidden])', { timeout: 15_000 })
    const notice = await page.textContent('#notice')
    assert.match(
      notice ?? '',
      /refreshed from your inbox/,
      'the refetch worked (CORS + Bearer from the page)',
    )
    await page.waitForFunction(() => document.querySelectorAll('#history li').length >= 4, undefined, {
      timeout: 15_000,
    })
    const list = await rows(page)
    assert.deepEqual(
      list.map((r) => r.seq),
      ['6', '5', '4', '1'],
      `seqs 2 and 3 were trimmed; the rest once each: ${JSON.stringify(list)}`,
    )
    assert.equal(new Set(list.map((r) => r.id)).size, 4)
    assert.deepEqual(await page.$$eval('.banner', (els) => els.map((e) => (e as HTMLElement).dataset.loan)), [
      'L-6',
      'L-5',
      'L-4',
      'L-1',
    ])
    assert.deepEqual(pageErrors, [], 'no uncaught error in the page')
    t.diagnostic(`notice: ${notice}`)
  } catch (error) {
    keepArtifacts = true
    await page.screenshot({ path: join(artifacts, 'failure-missed.png'), fullPage: true }).catch(() => {})
    process.stderr.write(`\n[demo] failure screenshot in ${artifacts}\n`)
    throw error
  } finally {
    await context.close()
  }
})
