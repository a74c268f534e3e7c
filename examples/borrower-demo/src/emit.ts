// Demo producer: loan decisions to Kafka, the way a loan service would send them (key = borrower id,
// built and validated by @tidings/contracts' producer helpers).
//
//   node examples/borrower-demo/src/emit.ts --borrower b-1042 --decision APPROVED [--loan L-77]
//        [--amount 50000 --currency BDT] [--locale bn] [--reason CODE] [--event-id ID]
//        [--brokers host:port,…] [--topic loan.decisions]
//   node examples/borrower-demo/src/emit.ts --stream [--rate 2] [--count N] [--borrower b-1042,b-1043,…]
//
// Brokers: --brokers, else KAFKA_BROKERS, else .tidings/stack.env (a running `pnpm start`), else
// .tidings/infra.env (`pnpm infra:up`).
import { parseArgs } from 'node:util'
import {
  createEventProducer,
  type EventProducer,
  LOAN_DECISIONS,
  LOCALES,
  type LoanDecision,
  type LoanDecisionInput,
  type Locale,
  TOPICS,
} from '@tidings/contracts'
// the tracing switch only, not the whole runtime (logger, metrics…): a CLI starts fast
import { shutdownTracing } from '@tidings/runtime/tracing'
import { liveEnvFile } from '@tidings/test/infra/env-file'
import { defaultEnvFile, stackEnvFile } from '@tidings/test/infra/paths'
import { Kafka, logLevel, Partitioners, type Producer } from 'kafkajs'

export const USAGE = `Usage:
  emit --borrower <id> [--decision ${LOAN_DECISIONS.join('|')}] [--loan L-77]
       [--amount 50000 [--currency BDT]] [--locale ${LOCALES.join('|')}] [--reason <code>] [--event-id <id>]
  emit --stream [--rate <events/s, default 2>] [--count <n>] [--borrower <id>[,<id>…]]
common: [--brokers host:port[,…]] (default KAFKA_BROKERS, then the running pnpm start, then pnpm infra:up)
        [--topic loan.decisions]

--stream sends a steady flow of decisions for a set of borrowers (default b-1042…b-1046): each
borrower's loan goes NEEDS_INFO/APPROVED/REJECTED, an approved one is then DISBURSED, and a finished
loan is followed by a new one. It stops after --count events, or on Ctrl-C.`

export class UsageError extends Error {
  override readonly name = 'UsageError'
}

export type EmitCommand =
  | { mode: 'one'; brokers: string[] | undefined; topic: string; decision: LoanDecisionInput }
  | {
      mode: 'stream'
      brokers: string[] | undefined
      topic: string
      borrowers: string[]
      rate: number
      count: number | undefined
      locale: Locale | undefined
    }
  | { mode: 'help' }

const positiveNumber = (name: string, raw: string | undefined): number | undefined => {
  if (raw === undefined) return undefined
  const n = Number(raw)
  if (!Number.isFinite(n) || n <= 0) throw new UsageError(`--${name} must be a positive number, got ${raw}`)
  return n
}

/** Parses the command line (without `node emit.ts`). Throws UsageError. */
export function parseEmitArgs(argv: string[]): EmitCommand {
  let values: Record<string, string | boolean | undefined>
  try {
    ;({ values } = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        borrower: { type: 'string' },
        decision: { type: 'string' },
        loan: { type: 'string' },
        amount: { type: 'string' },
        currency: { type: 'string' },
        locale: { type: 'string' },
        reason: { type: 'string' },
        'event-id': { type: 'string' },
        brokers: { type: 'string' },
        topic: { type: 'string' },
        stream: { type: 'boolean' },
        rate: { type: 'string' },
        count: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }))
  } catch (error) {
    throw new UsageError((error as Error).message)
  }
  const str = (k: string) => values[k] as string | undefined
  if (values.help) return { mode: 'help' }
  const brokersRaw = str('brokers')
  const brokers = brokersRaw
    ?.split(',')
    .map((b) => b.trim())
    .filter(Boolean)
  if (brokers?.length === 0) throw new UsageError('--brokers is empty')
  const topic = str('topic') ?? TOPICS.loanDecisions
  const locale = str('locale')
  if (locale !== undefined && !(LOCALES as readonly string[]).includes(locale)) {
    throw new UsageError(`--locale must be one of ${LOCALES.join(', ')}`)
  }

  if (values.stream) {
    for (const k of ['decision', 'loan', 'amount', 'currency', 'reason', 'event-id']) {
      if (values[k] !== undefined) throw new UsageError(`--${k} does not go with --stream`)
    }
    const borrowers = (str('borrower') ?? 'b-1042,b-1043,b-1044,b-1045,b-1046')
      .split(',')
      .map((b) => b.trim())
      .filter(Boolean)
    if (borrowers.length === 0) throw new UsageError('--borrower lists no borrower')
    const count = positiveNumber('count', str('count'))
    if (count !== undefined && !Number.isInteger(count)) throw new UsageError('--count must be an integer')
    return {
      mode: 'stream',
      brokers,
      topic,
      borrowers,
      rate: positiveNumber('rate', str('rate')) ?? 2,
      count,
      locale: locale as Locale | undefined,
    }
  }

  for (const k of ['rate', 'count']) {
    if (values[k] !== undefined) throw new UsageError(`--${k} only goes with --stream`)
  }
  const borrowerId = str('borrower')
  if (!borrowerId) throw new UsageError('--borrower is required (or --stream)')
  const decision = (str('decision') ?? 'APPROVED').toUpperCase()
  if (!(LOAN_DECISIONS as readonly string[]).includes(decision)) {
    throw new UsageError(`--decision must be one of ${LOAN_DECISIONS.join(', ')}`)
  }
  const amountRaw = str('amount')
  const currency = str('currency')
  if (currency !== undefined && amountRaw === undefined) throw new UsageError('--currency needs --amount')
  let amount: LoanDecisionInput['amount']
  if (amountRaw !== undefined) {
    const value = Number(amountRaw)
    if (!Number.isFinite(value) || value < 0)
      throw new UsageError(`--amount must be a number, got ${amountRaw}`)
    amount = { value, currency: (currency ?? 'BDT').toUpperCase() }
  }
  const input: LoanDecisionInput = {
    borrowerId,
    loanId: str('loan') ?? 'L-77',
    decision: decision as LoanDecision,
    ...(amount ? { amount } : {}),
    ...(locale ? { locale: locale as Locale } : {}),
    ...(str('reason') ? { reasonCode: str('reason')! } : {}),
    ...(str('event-id') ? { eventId: str('event-id')! } : {}),
  }
  return { mode: 'one', brokers, topic, decision: input }
}

/**
 * --brokers, else KAFKA_BROKERS, else the Kafka of a running `pnpm start` (.tidings/stack.env), else
 * that of `pnpm infra:up` (.tidings/infra.env); a file whose servers do not answer is skipped.
 */
export async function resolveBrokers(
  fromArgs: string[] | undefined,
  env: Record<string, string | undefined> = process.env,
  files: string[] = [stackEnvFile, defaultEnvFile],
): Promise<string[]> {
  if (fromArgs?.length) return fromArgs
  let list = env.KAFKA_BROKERS
  for (const file of files) {
    if (list) break
    list = (await liveEnvFile(file))?.KAFKA_BROKERS
  }
  const brokers = list
    ?.split(',')
    .map((b) => b.trim())
    .filter(Boolean)
  if (!brokers?.length) {
    throw new UsageError(
      'no Kafka brokers: start the stack with `pnpm start` (or `pnpm infra:up`), pass --brokers host:port, or set KAFKA_BROKERS',
    )
  }
  return brokers
}

export interface DecisionEmitter {
  readonly events: EventProducer
  send(input: LoanDecisionInput): Promise<string>
  disconnect(): Promise<void>
}

/** A connected kafkajs producer (murmur2 partitioner, like Java clients) wrapped by the contracts' helpers. */
export async function connectEmitter(
  brokers: string[],
  topic: string = TOPICS.loanDecisions,
): Promise<DecisionEmitter> {
  const producer: Producer = new Kafka({
    clientId: 'tidings-demo-emit',
    brokers,
    logLevel: logLevel.NOTHING,
  }).producer({ createPartitioner: Partitioners.DefaultPartitioner, allowAutoTopicCreation: false })
  await producer.connect()
  const events = createEventProducer(producer, { topics: { loanDecisions: topic } })
  return {
    events,
    send: (input) => events.loanDecision(input),
    disconnect: () => producer.disconnect(),
  }
}

/** One borrower's loan in the stream: where it is in its life. */
interface LoanState {
  loanId: string
  last: LoanDecision | undefined
  amount: number
}

/** The next decision of a stream: plausible life cycles, not uniform noise. */
export function nextDecision(state: LoanState, random: () => number): LoanDecision {
  switch (state.last) {
    case 'APPROVED':
      return 'DISBURSED'
    case 'NEEDS_INFO':
      return random() < 0.75 ? 'APPROVED' : 'REJECTED'
    default: {
      const r = random()
      return r < 0.5 ? 'APPROVED' : r < 0.8 ? 'NEEDS_INFO' : 'REJECTED'
    }
  }
}

async function runStream(
  emitter: DecisionEmitter,
  cmd: Extract<EmitCommand, { mode: 'stream' }>,
  signal: AbortSignal,
): Promise<number> {
  const loans = new Map<string, LoanState>()
  const runId = Date.now().toString(36).slice(-4).toUpperCase()
  let loanN = 0
  const newLoan = (): LoanState => ({
    loanId: `L-${runId}-${++loanN}`,
    last: undefined,
    amount: 5000 * (1 + Math.floor(Math.random() * 40)),
  })
  const started = Date.now()
  let sent = 0
  while (!signal.aborted && (cmd.count === undefined || sent < cmd.count)) {
    const borrowerId = cmd.borrowers[sent % cmd.borrowers.length]!
    let loan = loans.get(borrowerId)
    if (!loan || loan.last === 'DISBURSED' || loan.last === 'REJECTED') {
      loan = newLoan()
      loans.set(borrowerId, loan)
    }
    const decision = nextDecision(loan, Math.random)
    loan.last = decision
    const t0 = Date.now()
    const eventId = await emitter.send({
      borrowerId,
      loanId: loan.loanId,
      decision,
      amount: { value: loan.amount, currency: 'BDT' },
      ...(cmd.locale ? { locale: cmd.locale } : {}),
    })
    sent++
    process.stdout.write(
      `${new Date().toISOString()} ${decision.padEnd(10)} ${borrowerId} loan ${loan.loanId} ` +
        `eventId ${eventId} (${Date.now() - t0} ms)\n`,
    )
    // steady pacing: event i goes out at started + i / rate, whatever the send took
    const wait = started + (sent * 1000) / cmd.rate - Date.now()
    if (wait > 0 && (cmd.count === undefined || sent < cmd.count)) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, wait)
        signal.addEventListener(
          'abort',
          () => {
            clearTimeout(timer)
            resolve()
          },
          { once: true },
        )
      })
    }
  }
  return sent
}

export async function main(argv: string[]): Promise<number> {
  let cmd: EmitCommand
  let brokers: string[]
  try {
    cmd = parseEmitArgs(argv)
    if (cmd.mode === 'help') {
      process.stdout.write(`${USAGE}\n`)
      return 0
    }
    brokers = await resolveBrokers(cmd.brokers)
  } catch (error) {
    if (!(error instanceof UsageError)) throw error
    process.stderr.write(`emit: ${error.message}\n\n${USAGE}\n`)
    return 2
  }
  const emitter = await connectEmitter(brokers, cmd.topic)
  try {
    if (cmd.mode === 'one') {
      const t0 = Date.now()
      const eventId = await emitter.send(cmd.decision)
      process.stdout.write(
        `sent ${cmd.decision.decision} for ${cmd.decision.borrowerId} (loan ${cmd.decision.loanId}) to ` +
          `${cmd.topic} on ${brokers.join(',')}: eventId ${eventId} (${Date.now() - t0} ms)\n`,
      )
      return 0
    }
    const stop = new AbortController()
    const onSignal = () => stop.abort()
    process.once('SIGINT', onSignal)
    process.once('SIGTERM', onSignal)
    process.stdout.write(
      `streaming ${cmd.rate}/s to ${cmd.topic} on ${brokers.join(',')} for ${cmd.borrowers.join(', ')}` +
        `${cmd.count ? ` (${cmd.count} events)` : ' (Ctrl-C stops)'}\n`,
    )
    const sent = await runStream(emitter, cmd, stop.signal)
    process.off('SIGINT', onSignal)
    process.off('SIGTERM', onSignal)
    process.stdout.write(`sent ${sent} decisions\n`)
    return 0
  } finally {
    await emitter.disconnect()
    // spans of the producer helper (when run with OTEL_TRACES_EXPORTER=otlp): exported before exit
    await shutdownTracing()
  }
}

if (import.meta.main) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code
    },
    (error: unknown) => {
      process.stderr.write(`emit: ${(error as Error).stack ?? error}\n`)
      process.exitCode = 1
    },
  )
}
