import type { TSchema } from '@sinclair/typebox'
import { TypeCompiler } from '@sinclair/typebox/compiler'
import { LoanDecisionEvent, NotificationRequestedEvent } from './events.ts'

export type Validation<T> = { ok: true; value: T } | { ok: false; message: string }

export type Validator<T> = (value: unknown) => Validation<T>

/** Compiles a schema once; the result reports the first failure as "<path> <message>". */
export function compileValidator<T>(schema: TSchema): Validator<T> {
  const check = TypeCompiler.Compile(schema)
  return (value) => {
    if (check.Check(value)) return { ok: true, value: value as T }
    const first = check.Errors(value).First()
    const where = first?.path ? first.path : '(root)'
    return { ok: false, message: first ? `${where}: ${first.message}` : 'does not match the schema' }
  }
}

const loanDecision = compileValidator<LoanDecisionEvent>(LoanDecisionEvent)
const requested = compileValidator<NotificationRequestedEvent>(NotificationRequestedEvent)

// The schema's pattern checks the shape; this refuses what has the shape but is no instant.
function realTimestamp<T extends { occurredAt: string }>(res: Validation<T>): Validation<T> {
  if (!res.ok) return res
  const problem = timestampProblem(res.value.occurredAt)
  return problem ? { ok: false, message: `/occurredAt: not a real date and time: ${problem}` } : res
}

// The Timestamp pattern (ids.ts), with its parts captured.
const TIMESTAMP_PARTS =
  /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.\d{1,9})?(?:Z|[+-](\d{2}):(\d{2}))$/

/**
 * Why a timestamp of the Timestamp pattern is no real instant, or undefined when it is one. Date.parse
 * alone is lenient: it turns 2026-02-30 into 2 March and takes a UTC year past 9999 (`+010000-…`,
 * which a notification's createdAt cannot carry). A leap second (:60) is refused: JavaScript has none.
 */
export function timestampProblem(text: string): string | undefined {
  const m = TIMESTAMP_PARTS.exec(text)
  if (!m) return 'not of the form 2026-11-24T10:00:00Z (T and Z upper-case, a zone required)'
  const [year, month, day, hour, minute, second] = [1, 2, 3, 4, 5, 6].map((i) => Number(m[i]))
  if (!month || month > 12) return `there is no month ${m[2]}`
  // day 0 of the next month is the last of this one (setUTCFullYear: Date.UTC maps years 0–99 to 19xx)
  const lastDay = new Date(0)
  lastDay.setUTCFullYear(year as number, month, 0)
  if (!day || day > lastDay.getUTCDate()) return `${m[1]}-${m[2]} has no day ${m[3]}`
  if ((hour as number) > 23 || (minute as number) > 59 || (second as number) > 59)
    return `${m[4]}:${m[5]}:${m[6]} is not a time of day`
  if (m[7] !== undefined && (Number(m[7]) > 23 || Number(m[8]) > 59)) return 'the zone offset is out of range'
  const utcYear = new Date(Date.parse(text)).getUTCFullYear()
  if (!(utcYear >= 0 && utcYear <= 9999)) return 'in UTC it is outside the years 0000–9999'
  return undefined
}

export function validateLoanDecision(value: unknown): Validation<LoanDecisionEvent> {
  return realTimestamp(loanDecision(value))
}

/**
 * Bounds of a notification's free-form `data` (it reaches every app as is, so it is kept small and
 * shallow): at most this many levels of objects/arrays, `data` itself being the first...
 */
export const DATA_MAX_DEPTH = 16
/** ...and at most this many bytes as JSON (UTF-8). */
export const DATA_MAX_BYTES = 16 * 1024

const utf8 = new TextEncoder()

export function validateNotificationRequested(value: unknown): Validation<NotificationRequestedEvent> {
  const res = realTimestamp(requested(value))
  if (!res.ok) return res
  const { userId, topic, data } = res.value
  if ((userId === undefined) === (topic === undefined)) {
    return { ok: false, message: 'exactly one of userId or topic is required' }
  }
  return data === undefined ? res : checkDataBounds(data, res)
}

function checkDataBounds<T>(data: unknown, res: Validation<T>): Validation<T> {
  // Measured without recursion: a value nested thousands of levels deep is exactly what must not
  // reach JSON.stringify (it throws RangeError, the call stack).
  if (nestingDepth(data) > DATA_MAX_DEPTH) {
    return { ok: false, message: `/data: nests deeper than ${DATA_MAX_DEPTH} levels` }
  }
  const bytes = utf8.encode(JSON.stringify(data)).length
  if (bytes > DATA_MAX_BYTES) {
    return { ok: false, message: `/data: ${bytes} bytes as JSON, more than ${DATA_MAX_BYTES}` }
  }
  return res
}

/** Levels of objects/arrays in `value` (a scalar is 0, `{}` is 1); stops counting past a bound. */
function nestingDepth(value: unknown): number {
  const stop = DATA_MAX_DEPTH + 1
  let deepest = 0
  const stack: Array<[unknown, number]> = [[value, 1]]
  while (stack.length > 0) {
    const [v, depth] = stack.pop() as [unknown, number]
    if (typeof v !== 'object' || v === null) continue
    if (depth > deepest) deepest = depth
    if (deepest >= stop) return deepest
    for (const child of Array.isArray(v) ? v : Object.values(v)) stack.push([child, depth + 1])
  }
  return deepest
}
