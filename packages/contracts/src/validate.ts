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

// The schema's pattern checks the shape; this refuses dates that do not exist (month 13).
function realTimestamp<T extends { occurredAt: string }>(res: Validation<T>): Validation<T> {
  if (res.ok && Number.isNaN(Date.parse(res.value.occurredAt))) {
    return { ok: false, message: '/occurredAt: not a real date and time' }
  }
  return res
}

export function validateLoanDecision(value: unknown): Validation<LoanDecisionEvent> {
  return realTimestamp(loanDecision(value))
}

export function validateNotificationRequested(value: unknown): Validation<NotificationRequestedEvent> {
  const res = realTimestamp(requested(value))
  if (!res.ok) return res
  const { userId, topic } = res.value
  if ((userId === undefined) === (topic === undefined)) {
    return { ok: false, message: 'exactly one of userId or topic is required' }
  }
  return res
}
