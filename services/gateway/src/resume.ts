import { isEpoch } from '@tidings/contracts'
import type { ResumePoint } from '@tidings/delivery'
import { BAD_RESUME } from './errors.ts'

function seqOf(v: unknown): number {
  const n = Number(v)
  if (typeof v !== 'string' || v === '' || !Number.isSafeInteger(n) || n < 0) throw new BAD_RESUME()
  return n
}

// Notification ids are 22 characters from the dispatcher; this only bounds what a client may send.
const MAX_ID_LENGTH = 256

/**
 * `?lastSeq=N&epoch=E&lastId=I` (WebSocket, SSE) or `?afterSeq=N&epoch=E` (REST inbox).
 * `requireEpoch` (WebSocket): the protocol trusts a lastSeq only together with its epoch, so a
 * lastSeq without one replays from the oldest. SSE and REST are specified with a seq only: there
 * a seq without an epoch is taken in the current epoch. `lastId`, the id of the notification at
 * lastSeq, lets the read tell seqs reused after Redis lost writes (docs/protocol.md §5.1).
 */
export function parseResumeQuery(
  q: Record<string, unknown>,
  seqParam: 'lastSeq' | 'afterSeq',
  opts: { requireEpoch?: boolean } = {},
): ResumePoint {
  const resume: ResumePoint = {}
  if (q[seqParam] !== undefined) resume.lastSeq = seqOf(q[seqParam])
  if (q.epoch !== undefined) {
    if (typeof q.epoch !== 'string' || !isEpoch(q.epoch)) throw new BAD_RESUME()
    resume.epoch = q.epoch
  }
  if (seqParam === 'lastSeq' && q.lastId !== undefined) {
    if (typeof q.lastId !== 'string' || q.lastId === '' || q.lastId.length > MAX_ID_LENGTH)
      throw new BAD_RESUME()
    if (resume.lastSeq !== undefined) resume.lastId = q.lastId
  }
  if (opts.requireEpoch && resume.epoch === undefined) {
    delete resume.lastSeq
    delete resume.lastId
  }
  return resume
}

/** SSE `Last-Event-ID: <epoch>:<seq>` — what EventSource sends back on its own reconnects. */
export function parseLastEventId(value: string | string[] | undefined): ResumePoint | undefined {
  if (typeof value !== 'string' || value === '') return undefined
  const i = value.lastIndexOf(':')
  if (i <= 0) throw new BAD_RESUME()
  const epoch = value.slice(0, i)
  if (!isEpoch(epoch)) throw new BAD_RESUME()
  return { epoch, lastSeq: seqOf(value.slice(i + 1)) }
}
