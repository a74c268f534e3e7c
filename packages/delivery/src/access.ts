// A start-up check of the Redis credentials and certificates. The long-lived connections retry
// forever (an outage pauses a service, it does not kill it), which is right for unavailability and
// wrong for a bad password: that would be a silent retry loop. So before them, one connection that
// does not retry: a refusal of the credentials or of the certificate stops the service with a
// ConfigError naming the setting (exit 78); a server that is simply not there yet does not.
import { CERTIFICATE_ERROR_CODES, ConfigError } from '@tidings/runtime'
import { Redis } from 'ioredis'
import { type RedisTarget, securityOptions } from './connection.ts'
import { topicChannel, userChannel } from './keys.ts'

/**
 * Connects once to Redis (the first seed node of a Cluster: AUTH and TLS are the same on every
 * node), authenticates and PINGs. Throws a ConfigError for wrong credentials or an untrusted
 * certificate; throws a RedisUnavailable when Redis is unreachable (the caller may start anyway).
 */
export async function checkRedisAccess(target: RedisTarget, timeoutMs = 5000): Promise<void> {
  const node = 'url' in target ? undefined : target.clusterNodes[0]
  const options = {
    ...securityOptions(target),
    lazyConnect: true,
    connectTimeout: timeoutMs,
    retryStrategy: () => null,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    // the INFO of the ready check may be denied to a narrow ACL user; PING below is enough
    enableReadyCheck: false,
  }
  const client = node
    ? new Redis({ ...options, host: node.host, port: node.port })
    : new Redis((target as { url: string }).url, options)
  let lastError: Error | undefined
  client.on('error', (err: Error) => {
    lastError = err
  })
  try {
    await client.connect()
    await client.ping()
    await probePublish(client)
  } catch (err) {
    const cause = lastError ?? (err as Error)
    throw classify(cause, target) ?? classify(err as Error, target) ?? unavailable(cause)
  } finally {
    client.disconnect()
  }
}

/**
 * Both services publish to `tdg:` channels (notifications, broadcasts, revocations) and the gateway
 * subscribes to them: an ACL user allowed the keys but not the channels would store every
 * notification and deliver none live. One publish to a channel nobody subscribes to; on a Cluster, a
 * MOVED answer means the ACL allowed it (Redis checks the ACL before it redirects).
 */
async function probePublish(client: Redis): Promise<void> {
  // a user's channel and a broadcast topic's: an ACL may allow one pattern and not the other
  for (const channel of [userChannel('tidings-access-check'), topicChannel('tidings-access-check')]) {
    try {
      await client.call('SPUBLISH', channel, '')
    } catch (err) {
      if (!/^(MOVED|ASK) /.test((err as Error).message ?? '')) throw err
    }
  }
}

/** Redis did not answer (refused, timed out, reset): worth retrying, unlike a ConfigError. */
export class RedisUnavailable extends Error {
  override name = 'RedisUnavailable'
}
function unavailable(cause: Error): RedisUnavailable {
  return new RedisUnavailable(cause.message, { cause })
}

function classify(err: Error, target: RedisTarget): ConfigError | undefined {
  const message = err.message ?? ''
  const code = (err as NodeJS.ErrnoException).code ?? ''
  if (/WRONGPASS|invalid username-password|invalid password/i.test(message))
    return new ConfigError(
      `REDIS_PASSWORD was refused by Redis${target.username ? ` for REDIS_USERNAME=${target.username}` : ''}: ${message}`,
      'REDIS_PASSWORD',
    )
  if (/NOAUTH/.test(message))
    return new ConfigError(`REDIS_PASSWORD is required by this Redis: ${message}`, 'REDIS_PASSWORD')
  if (/NOPERM/.test(message) && /channel/i.test(message))
    return new ConfigError(
      `REDIS_USERNAME may not publish to Tidings' channels (grant it &tdg:*): ${message}`,
      'REDIS_USERNAME',
    )
  if (/NOPERM/.test(message))
    return new ConfigError(`REDIS_USERNAME lacks a permission: ${message}`, 'REDIS_USERNAME')
  if (CERTIFICATE_ERROR_CODES.has(code))
    return new ConfigError(
      `REDIS_TLS_CA_FILE does not vouch for the Redis certificate (${code}): ${message}`,
      'REDIS_TLS_CA_FILE',
    )
  // TLS spoken to a plain-text port
  if (target.tls && (code === 'EPROTO' || /wrong version number|packet length too long/i.test(message)))
    return new ConfigError(`REDIS_TLS is on but Redis does not speak TLS there: ${message}`, 'REDIS_TLS')
  return undefined
}

/** For callers that want to treat unavailability as a warning and everything else as fatal. */
export async function verifyRedisAccess(
  target: RedisTarget,
  onUnavailable: (err: Error) => void,
): Promise<void> {
  try {
    await checkRedisAccess(target)
  } catch (err) {
    if (err instanceof RedisUnavailable) onUnavailable(err)
    else throw err
  }
}
