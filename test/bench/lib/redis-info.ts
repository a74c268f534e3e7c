// INFO of a Redis server, for counting what a bench made it do.
import type { Redis } from 'ioredis'

export interface RedisCounters {
  /** cmdstat_<name>.calls, by lower-case command name (includes commands run by Lua scripts). */
  calls: Record<string, number>
  totalCommands: number
  /** Read events on client sockets: each is one batch of pipelined commands arriving, ~ one round trip. */
  readsProcessed: number
  netInputBytes: number
  /** used_cpu_user + used_cpu_sys of the server (all its threads), seconds. */
  cpuSeconds: number
}

export async function redisCounters(redis: Redis): Promise<RedisCounters> {
  const [cmd, stats, cpu] = await Promise.all([
    redis.info('commandstats'),
    redis.info('stats'),
    redis.info('cpu'),
  ])
  const calls: Record<string, number> = {}
  for (const m of cmd.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) calls[m[1]!] = Number(m[2])
  const stat = (k: string) => Number(new RegExp(`^${k}:(\\d+)`, 'm').exec(stats)?.[1] ?? Number.NaN)
  return {
    calls,
    totalCommands: stat('total_commands_processed'),
    readsProcessed: stat('total_reads_processed'),
    netInputBytes: stat('total_net_input_bytes'),
    cpuSeconds: ['used_cpu_user', 'used_cpu_sys']
      .map((k) => Number(new RegExp(`^${k}:([\\d.]+)`, 'm').exec(cpu)?.[1] ?? Number.NaN))
      .reduce((a, b) => a + b, 0),
  }
}

/** after − before, command by command (only those that moved). */
export function diffCounters(before: RedisCounters, after: RedisCounters): RedisCounters {
  const calls: Record<string, number> = {}
  for (const [k, v] of Object.entries(after.calls)) {
    const d = v - (before.calls[k] ?? 0)
    if (d > 0) calls[k] = d
  }
  return {
    calls,
    totalCommands: after.totalCommands - before.totalCommands,
    readsProcessed: after.readsProcessed - before.readsProcessed,
    netInputBytes: after.netInputBytes - before.netInputBytes,
    cpuSeconds: after.cpuSeconds - before.cpuSeconds,
  }
}
