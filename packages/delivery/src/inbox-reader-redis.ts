import { finishRead, type InboxRead, lastIdInFrame, nextEpochCandidate, type ResumePoint } from './inbox.ts'
import type { InboxReader, InboxReaderOptions } from './inbox-reader.ts'
import { userInboxKey, userStateKey } from './keys.ts'
import { LuaScript } from './lua-script.ts'
import { type DeliveryMeta, splitEntry } from './meta.ts'
import type { RedisClient } from './redis-client.ts'
import { ACK, READ_INBOX } from './scripts.ts'

const readScript = new LuaScript<[string, number, number, number, string[], number]>(READ_INBOX, 2)
const ackScript = new LuaScript<[number, string]>(ACK, 2)

export function createInboxReader(redis: RedisClient, options: InboxReaderOptions): InboxReader {
  const { stateTtlSeconds } = options
  if (!Number.isSafeInteger(stateTtlSeconds) || stateTtlSeconds < 1) {
    throw new RangeError(`stateTtlSeconds must be a positive integer, got ${stateTtlSeconds}`)
  }
  const ackWithMeta: InboxReader['ackWithMeta'] = async (userId, epoch, seq) => {
    const [acked, line] = await ackScript.run(
      redis,
      userStateKey(userId),
      userInboxKey(userId),
      epoch ?? '',
      seq,
    )
    return { acked: Number(acked), meta: line === '' ? undefined : splitEntry(`${line}{`).meta }
  }

  return {
    async readInbox(userId, from) {
      const lastSeq = from.lastSeq ?? 0
      const clientEpoch = from.epoch ?? ''
      const [epoch, seq, acked, firstSeq, entries, regressed] = await readScript.run(
        redis,
        userStateKey(userId),
        userInboxKey(userId),
        nextEpochCandidate(),
        lastSeq,
        clientEpoch,
        stateTtlSeconds,
        lastIdInFrame(from),
      )
      return readFromScript(from, epoch, seq, acked, firstSeq, entries, regressed)
    },
    ack: async (userId, epoch, seq) => (await ackWithMeta(userId, epoch, seq)).acked,
    ackWithMeta,
  }
}

/**
 * What the read part of READ_INBOX and ADMIT_SESSION answers, as an InboxRead: the stored entries
 * split into frames (sent to apps) and metas (never sent), then the protocol's missed/regressed rules.
 */
export function readFromScript(
  from: ResumePoint,
  epoch: string,
  seq: number,
  acked: number,
  firstSeq: number,
  entries: string[],
  regressed: number,
): InboxRead {
  const frames: string[] = new Array(entries.length)
  const metas: Array<DeliveryMeta | undefined> = new Array(entries.length)
  for (let i = 0; i < entries.length; i++) {
    const split = splitEntry(entries[i]!)
    frames[i] = split.frame
    metas[i] = split.meta
  }
  return finishRead(from, { epoch, seq, acked, frames, metas, firstSeq }, regressed === 1)
}
