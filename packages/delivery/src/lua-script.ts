import { createHash } from 'node:crypto'
import type { Redis } from 'ioredis'
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
 *
 * A connection loads every script defined so far once it is ready (`loadKnownScripts`, standalone
 * Redis), as `defineCommand` did: after a restart the next calls run by SHA, not NOSCRIPT then EVAL.
 * A call that does take the fallback makes a second round trip, which a later call issued meanwhile
 * may overtake: callers that need two calls in order await the first (every caller here does).
 */
const known = new Set<LuaScript<unknown>>()

export class LuaScript<Reply> {
  readonly lua: string
  readonly sha: string
  /** How many of a call's values are keys (they come first); unset when it varies per call (`runWith`). */
  readonly numberOfKeys: number | undefined

  constructor(lua: string, numberOfKeys?: number) {
    this.lua = lua
    this.sha = createHash('sha1').update(lua).digest('hex')
    this.numberOfKeys = numberOfKeys
    known.add(this)
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

/**
 * SCRIPT LOAD of every script defined so far, on a standalone connection that just became ready.
 * A failure costs nothing but the NOSCRIPT fallback later.
 */
export function loadKnownScripts(redis: Redis): void {
  for (const script of known) redis.script('LOAD', script.lua).catch(() => {})
}
