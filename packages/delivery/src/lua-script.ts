import { createHash } from 'node:crypto'
import type { RedisClient } from './redis-client.ts'

/**
 * A Lua script run by its SHA (EVALSHA), and with its text (EVAL, which caches it again) when the node
 * answers NOSCRIPT: the first call, after a restart or a failover. A Cluster routes both by the first
 * key, so scripts whose keys share a hash tag run where their keys live.
 *
 * Not ioredis's `defineCommand`: each auto-pipeline batch ioredis makes (one per event-loop turn with
 * commands) copies every defined command onto its new Pipeline, two properties and a SHA entry per
 * script — about 0.8 KB a batch with our scripts. In a connect storm those batches wait for Redis long
 * enough to be promoted to old space, and what dies there stays in a running pod's RSS (issue 11).
 */
export class LuaScript<Reply> {
  readonly lua: string
  readonly sha: string
  /** How many of a call's values are keys (they come first); unset when it varies per call (`runWith`). */
  readonly numberOfKeys: number | undefined

  constructor(lua: string, numberOfKeys?: number) {
    this.lua = lua
    this.sha = createHash('sha1').update(lua).digest('hex')
    this.numberOfKeys = numberOfKeys
  }

  run(redis: RedisClient, ...keysAndArgs: Array<string | number>): Promise<Reply> {
    if (this.numberOfKeys === undefined)
      throw new TypeError('this script takes its key count per call: runWith')
    return this.runWith(redis, this.numberOfKeys, keysAndArgs)
  }

  async runWith(
    redis: RedisClient,
    numberOfKeys: number,
    keysAndArgs: Array<string | number>,
  ): Promise<Reply> {
    try {
      return (await redis.evalsha(this.sha, numberOfKeys, ...keysAndArgs)) as Reply
    } catch (err) {
      if (!(err instanceof Error && err.message.startsWith('NOSCRIPT'))) throw err
      return (await redis.eval(this.lua, numberOfKeys, ...keysAndArgs)) as Reply
    }
  }
}
