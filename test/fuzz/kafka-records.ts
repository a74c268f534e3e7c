// Malformed Kafka records for the dispatcher fuzz: random and mutated values, bad UTF-8, deep nesting,
// huge strings, null / repeated / binary headers, broken CloudEvents headers. Deterministic for a seed,
// so a failure can be replayed. Each record says what must become of it.
import type { RawRecord } from '../support/raw-producer.ts'
import { prng } from './prng.ts'

export type Outcome =
  /** a dead letter keyed like the record, whose tidings-error is one of `reasons` */
  | { kind: 'dead-letter'; reasons: readonly string[] }
  /** a valid event (odd headers only): a notification in the inbox of the record's key */
  | { kind: 'delivered' }

export interface FuzzRecord extends RawRecord {
  key: string
  /** The generator that made it, for failure messages and the report. */
  category: string
  outcome: Outcome
}

const ANY = [
  'invalid_json',
  'invalid_cloudevent',
  'unexpected_type',
  'invalid_schema',
  'unmapped',
  'too_large',
]

interface Topics {
  loanDecisions: string
  notificationsRequested: string
}

/** `count` fuzz records for the two input topics; keys (and user ids) are `<prefix>-<i>`. */
export function fuzzRecords(
  count: number,
  seed: number,
  topics: Topics,
  maxEventBytes: number,
  prefix: string,
): FuzzRecord[] {
  const rnd = prng(seed)
  const int = (lo: number, hi: number) => lo + Math.floor(rnd() * (hi - lo + 1))
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)] as T
  const bytes = (n: number) => Buffer.from(Array.from({ length: n }, () => int(0, 255)))

  const loan = (key: string, extra: Record<string, unknown> = {}) => ({
    eventId: `${key}-e`,
    occurredAt: '2026-11-24T10:00:00.000Z',
    borrowerId: key,
    loanId: 'L-1',
    decision: 'APPROVED',
    amount: { value: 1000, currency: 'BDT' },
    locale: 'en',
    ...extra,
  })
  const request = (key: string, extra: Record<string, unknown> = {}) => ({
    eventId: `${key}-e`,
    occurredAt: '2026-11-24T10:00:00.000Z',
    userId: key,
    kind: 'note',
    title: 'Hello',
    body: 'world',
    ...extra,
  })
  const nested = (depth: number, open: string, close: string, inner: string) =>
    `${open.repeat(depth)}${inner}${close.repeat(depth)}`
  const oddHeaders = (): Array<[string, Buffer | string | null]> => [
    ['x-null', null],
    ['x-dup', 'a'],
    ['x-dup', null],
    ['x-dup', 'b'],
    ['x-bin', bytes(int(1, 64))],
  ]

  type Make = (key: string) => Omit<FuzzRecord, 'key' | 'category'>
  const L = topics.loanDecisions
  const R = topics.notificationsRequested
  const dead = (...reasons: string[]): Outcome => ({ kind: 'dead-letter', reasons })
  const generators: Record<string, Make> = {
    'random bytes': () => ({ topic: pick([L, R]), value: bytes(int(1, 2000)), outcome: dead(...ANY) }),
    'bad UTF-8 in a string': (k) => {
      const text = JSON.stringify(loan(k))
      const at = text.indexOf('L-1')
      const value = Buffer.concat([
        Buffer.from(text.slice(0, at)),
        bytes(2).fill(0xc3, 0, 1).fill(0x28, 1),
        Buffer.from(text.slice(at)),
      ])
      return { topic: L, value, outcome: dead('invalid_json') }
    },
    'tombstone or empty': () => ({
      topic: pick([L, R]),
      value: pick([null, '']),
      outcome: dead('invalid_json'),
    }),
    'truncated JSON': (k) => {
      const text = JSON.stringify(loan(k))
      return { topic: L, value: text.slice(0, int(1, text.length - 1)), outcome: dead('invalid_json') }
    },
    'deep data': (k) => {
      const depth = int(17, 100_000)
      const head = JSON.stringify(request(k)).slice(0, -1)
      return {
        topic: R,
        value: `${head},"data":${nested(depth, '{"a":', '}', '{}')}}`,
        outcome: dead('invalid_schema', 'too_large'),
      }
    },
    'deep arrays as the value': () => ({
      topic: pick([L, R]),
      value: nested(int(1000, 200_000), '[', ']', ''),
      outcome: dead('invalid_schema', 'too_large'),
    }),
    'huge string field': (k) => ({
      topic: R,
      value: JSON.stringify(request(k, { title: 'x'.repeat(int(257, 50_000)) })),
      outcome: dead('invalid_schema'),
    }),
    'value over MAX_EVENT_BYTES': (k) => ({
      topic: L,
      value: JSON.stringify(loan(k, { padding: 'p'.repeat(maxEventBytes) })),
      outcome: dead('too_large'),
    }),
    'huge data': (k) => ({
      topic: R,
      value: JSON.stringify(request(k, { data: { blob: 'b'.repeat(int(17_000, 40_000)) } })),
      outcome: dead('invalid_schema'),
    }),
    'missing field': (k) => {
      const e: Record<string, unknown> = loan(k)
      delete e[pick(['eventId', 'occurredAt', 'borrowerId', 'loanId', 'decision'])]
      return { topic: L, value: JSON.stringify(e), outcome: dead('invalid_schema') }
    },
    'wrong types': (k) => ({
      topic: L,
      value: JSON.stringify(
        loan(k, pick([{ borrowerId: 123 }, { amount: 'lots' }, { decision: [] }, { occurredAt: 0 }])),
      ),
      outcome: dead('invalid_schema'),
    }),
    'no such date': (k) => ({
      topic: L,
      value: JSON.stringify(loan(k, { occurredAt: '2026-13-45T10:00:00Z' })),
      outcome: dead('invalid_schema'),
    }),
    'unknown decision': (k) => ({
      topic: L,
      value: JSON.stringify(loan(k, { decision: `D-${int(0, 1e6)}` })),
      outcome: dead('unmapped'),
    }),
    'user id breaking a hash tag': (k) => ({
      topic: L,
      value: JSON.stringify(loan(k, { borrowerId: `${k}{x}` })),
      outcome: dead('invalid_schema'),
    }),
    'both userId and topic': (k) => ({
      topic: R,
      value: JSON.stringify(request(k, { topic: 'news' })),
      outcome: dead('invalid_schema'),
    }),
    'odd headers on a bad event': () => ({
      topic: L,
      value: 'not json',
      headers: oddHeaders(),
      outcome: dead('invalid_json'),
    }),
    'odd headers on a valid event': (k) => ({
      topic: L,
      value: JSON.stringify(loan(k)),
      headers: oddHeaders(),
      outcome: { kind: 'delivered' },
    }),
    'broken CloudEvents binary headers': (k) => {
      const good: Array<[string, Buffer | string | null]> = [
        ['ce_specversion', '1.0'],
        ['ce_id', `${k}-ce`],
        ['ce_source', '/fuzz'],
        ['ce_type', 'loan.decision'],
      ]
      const i = int(0, good.length - 1)
      // a value that breaks that attribute: none, empty, not UTF-8, or (where the value is fixed) wrong
      const wrong = i === 0 ? ['0.3'] : i === 3 ? ['other.type'] : []
      const broken = pick<Buffer | string | null>([null, '', Buffer.from([0xff, 0xfe, 0xfd]), ...wrong])
      const headers = good.map(([n, v], j): [string, Buffer | string | null] => [n, j === i ? broken : v])
      // without ce_specversion (null: no value) the record is no CloudEvent, just a valid JSON event;
      // otherwise a null or empty attribute is missing, bad bytes are not UTF-8, a wrong value refused
      if (i === 0 && broken === null)
        return { topic: L, value: JSON.stringify(loan(k)), headers, outcome: { kind: 'delivered' } }
      return {
        topic: L,
        value: JSON.stringify(loan(k)),
        headers,
        outcome: dead('invalid_cloudevent', 'unexpected_type'),
      }
    },
    'broken structured CloudEvent': (k) => ({
      topic: L,
      value: pick([
        'not json',
        JSON.stringify({ specversion: '1.0', id: 'x', source: '/f', type: 'loan.decision' }),
        JSON.stringify({
          specversion: '1.0',
          id: 'x',
          source: '/f',
          type: 'loan.decision',
          data: loan(k),
          data_base64: 'AA==',
        }),
        JSON.stringify({
          specversion: '1.0',
          id: 'x',
          source: '/f',
          type: 'loan.decision',
          data_base64: '!!!',
        }),
        JSON.stringify([1, 2, 3]),
      ]),
      headers: [['content-type', 'application/cloudevents+json; charset=utf-8']],
      outcome: dead('invalid_json', 'invalid_cloudevent', 'invalid_schema'),
    }),
    'CloudEvents batch mode': () => ({
      topic: L,
      value: '[]',
      headers: [['content-type', 'application/cloudevents-batch+json']],
      outcome: dead('invalid_cloudevent'),
    }),
    'mutated bytes of a valid event': (k) => {
      // replace one brace or comma (none occurs inside this event's strings): never valid JSON again
      const text = JSON.stringify(loan(k))
      const positions = [...text.matchAll(/[{},]/g)].map((m) => m.index as number)
      const at = pick(positions)
      return {
        topic: L,
        value: `${text.slice(0, at)}${pick(['\u0000', '\\', ']'])}${text.slice(at + 1)}`,
        outcome: dead('invalid_json'),
      }
    },
  }

  const names = Object.keys(generators)
  return Array.from({ length: count }, (_, i) => {
    const key = `${prefix}-${i}`
    // every category at least once, then random ones
    const category = i < names.length ? (names[i] as string) : pick(names)
    return { key, category, ...(generators[category] as Make)(key) }
  })
}
