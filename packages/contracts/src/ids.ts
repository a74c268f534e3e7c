import { Type } from '@sinclair/typebox'

// User ids and topic names end up inside Redis keys and hash tags (`{userId}`), so the
// characters that would break a tag or a channel name are refused at the edge.
export const USER_ID_PATTERN = '^[A-Za-z0-9._:@|+=-]{1,128}$'
export const TOPIC_PATTERN = '^[A-Za-z0-9._-]{1,64}$'

/** An epoch as the server hands it out: opaque, short, URL- and header-safe. */
export const EPOCH_PATTERN = '^[A-Za-z0-9_-]{1,64}$'

export const UserId = Type.String({ pattern: USER_ID_PATTERN })
export const Epoch = Type.String({ pattern: EPOCH_PATTERN })
export const TopicName = Type.String({ pattern: TOPIC_PATTERN })
/** RFC 3339 timestamp with a zone; checked by pattern so the schema needs no format registry. */
export const Timestamp = Type.String({
  pattern: '^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}(\\.\\d{1,9})?(Z|[+-]\\d{2}:\\d{2})$',
})

const userIdRe = new RegExp(USER_ID_PATTERN)
const topicRe = new RegExp(TOPIC_PATTERN)
export const isUserId = (v: unknown): v is string => typeof v === 'string' && userIdRe.test(v)
export const isTopicName = (v: unknown): v is string => typeof v === 'string' && topicRe.test(v)
const epochRe = new RegExp(EPOCH_PATTERN)
export const isEpoch = (v: unknown): v is string => typeof v === 'string' && epochRe.test(v)
