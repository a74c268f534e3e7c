import type { InboxReader } from './inbox-reader.ts'
import { createInboxReader } from './inbox-reader-redis.ts'
import { createInboxWriter, type InboxWriter } from './inbox-writer.ts'
import type { RetentionOptions } from './options.ts'
import type { RedisClient } from './redis-client.ts'

/**
 * Both sides of the inbox on one connection: for tests and tools that write as the dispatcher
 * does and read as the gateway does. The services each create only their own side.
 */
export type DeliveryStore = InboxWriter & InboxReader

export function createDeliveryStore(redis: RedisClient, retention: RetentionOptions): DeliveryStore {
  return { ...createInboxWriter(redis, retention), ...createInboxReader(redis, retention) }
}
