import { isEpoch } from '@tidings/contracts'
import type { ResumePoint } from '@tidings/delivery'
import { BAD_RESUME } from './errors.ts'

function seqOf(v: unknown): number {
  const n = Number(v)
  if (typeof v !== 'string' || v === '' || !Number.isSafeInteger(n) || n < 0) throw new BAD_RESUME()
  return n
}

/**
 * `?lastSeq=N&epoch=E` (WebSocket, SSE) or `?afterSeq=N&epoch=E` (REST inbox).
 * `requireEpoch` (WebSocket): the protocol trusts a lastSeq only together with its epoch, so a
 * lastSeq without one replays from the oldest. SSE and REST are specified with a seq only: there
 * a seq without an epoch is taken in the current epoch.
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
  if (opts.requireEpoch && resume.epoch === undefined) delete resume.lastSeq
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
