// The push hand-off's settings (README "Push hand-off"), spread into the dispatcher's schema. Off
// unless PUSH_TOPIC is set.
import { Type } from '@sinclair/typebox'
import { TOPIC_PATTERN } from '@tidings/contracts'
import { ConfigError, requireThat } from '@tidings/runtime'

const KIND = /^[a-z0-9][a-z0-9._-]{0,63}$/
const BROADCAST_TOPIC = new RegExp(TOPIC_PATTERN)

export const pushEnvProperties = {
  PUSH_TOPIC: Type.Optional(
    Type.String({
      pattern: '^[A-Za-z0-9._-]{1,249}$',
      description: 'Kafka topic for push requests (e.g. notifications.push); unset = no push hand-off',
    }),
  ),
  PUSH_AFTER_MS: Type.Integer({
    minimum: 100,
    maximum: 86_400_000,
    default: 30_000,
    description: 'a notification a live session has not acked within this long gets a push request',
  }),
  PUSH_KINDS: Type.String({
    minLength: 1,
    default: '*',
    description: 'notification kinds that may be pushed (comma list, e.g. loan.decision), * = all',
  }),
  PUSH_BROADCAST_TOPICS: Type.Optional(
    Type.String({
      minLength: 1,
      description: 'broadcast topics whose notifications are pushed too (comma list)',
    }),
  ),
  PUSH_POLL_MS: Type.Integer({
    minimum: 10,
    maximum: 10_000,
    default: 250,
    description: 'how often due push requests are looked for',
  }),
}

export interface PushConfig {
  topic: string
  afterMs: number
  /** undefined = every kind */
  kinds: ReadonlySet<string> | undefined
  broadcastTopics: ReadonlySet<string>
  pollMs: number
}

interface PushEnv {
  PUSH_TOPIC?: string | undefined
  PUSH_AFTER_MS: number
  PUSH_KINDS: string
  PUSH_BROADCAST_TOPICS?: string | undefined
  PUSH_POLL_MS: number
}

const list = (v: string): string[] =>
  v
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)

/** `inputs`: the topics the push topic must differ from (variable → topic). */
export function toPushConfig(e: PushEnv, inputs: Record<string, string>): PushConfig | undefined {
  if (e.PUSH_TOPIC === undefined) {
    requireThat(e.PUSH_BROADCAST_TOPICS === undefined, 'PUSH_BROADCAST_TOPICS', 'needs PUSH_TOPIC')
    return undefined
  }
  for (const [variable, topic] of Object.entries(inputs)) {
    requireThat(e.PUSH_TOPIC !== topic, 'PUSH_TOPIC', `must differ from ${variable} (both are "${topic}")`)
  }
  let kinds: Set<string> | undefined
  if (e.PUSH_KINDS.trim() !== '*') {
    kinds = new Set(list(e.PUSH_KINDS))
    for (const k of kinds) {
      if (!KIND.test(k))
        throw new ConfigError(`PUSH_KINDS has "${k}", which is not a notification kind`, 'PUSH_KINDS')
    }
    requireThat(kinds.size > 0, 'PUSH_KINDS', 'must list kinds or be *')
  }
  const broadcastTopics = new Set(e.PUSH_BROADCAST_TOPICS ? list(e.PUSH_BROADCAST_TOPICS) : [])
  for (const t of broadcastTopics) {
    if (!BROADCAST_TOPIC.test(t)) {
      throw new ConfigError(
        `PUSH_BROADCAST_TOPICS has "${t}", which is not a topic name`,
        'PUSH_BROADCAST_TOPICS',
      )
    }
  }
  return { topic: e.PUSH_TOPIC, afterMs: e.PUSH_AFTER_MS, kinds, broadcastTopics, pollMs: e.PUSH_POLL_MS }
}
