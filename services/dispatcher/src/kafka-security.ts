// How the dispatcher authenticates to Kafka and encrypts the connection: TLS (a CA bundle, an
// optional client certificate) and SASL (PLAIN, SCRAM-SHA-256/512, credentials from files so that
// a mounted Secret never becomes an environment variable). Spread into DispatcherEnv.
import type { ConnectionOptions as TlsOptions } from 'node:tls'
import { Type } from '@sinclair/typebox'
import {
  CERTIFICATE_ERROR_CODES,
  ConfigError,
  readSettingFile,
  requireThat,
  valueOrFile,
} from '@tidings/runtime'
import { Kafka, type KafkaConfig, logLevel, type SASLOptions } from 'kafkajs'

export const SASL_MECHANISMS = ['plain', 'scram-sha-256', 'scram-sha-512'] as const
export type SaslMechanism = (typeof SASL_MECHANISMS)[number]

const File = (description: string) => Type.Optional(Type.String({ minLength: 1, description }))

export const kafkaSecurityEnvProperties = {
  KAFKA_TLS: Type.Boolean({ default: false, description: 'TLS to the brokers (SSL / SASL_SSL listeners)' }),
  KAFKA_TLS_CA_FILE: File('PEM CA bundle that signed the broker certificates (default: system CAs)'),
  KAFKA_TLS_CERT_FILE: File('client certificate (PEM) for brokers that require one (mTLS)'),
  KAFKA_TLS_KEY_FILE: File('private key (PEM) of that client certificate'),
  KAFKA_TLS_SERVERNAME: Type.Optional(
    Type.String({ minLength: 1, description: 'name the broker certificates must carry (default: the host)' }),
  ),
  KAFKA_SASL_MECHANISM: Type.Optional(
    Type.Unsafe<SaslMechanism>({
      type: 'string',
      enum: [...SASL_MECHANISMS],
      description: `SASL mechanism: ${SASL_MECHANISMS.join(', ')} (unset = no SASL)`,
    }),
  ),
  KAFKA_SASL_USERNAME: Type.Optional(Type.String({ minLength: 1, description: 'SASL user' })),
  KAFKA_SASL_USERNAME_FILE: File('file holding the SASL user instead'),
  KAFKA_SASL_PASSWORD: Type.Optional(Type.String({ minLength: 1, description: 'SASL password' })),
  KAFKA_SASL_PASSWORD_FILE: File('file holding the SASL password instead (a mounted Secret)'),
}

export interface KafkaSecurityEnv {
  KAFKA_TLS: boolean
  KAFKA_TLS_CA_FILE?: string
  KAFKA_TLS_CERT_FILE?: string
  KAFKA_TLS_KEY_FILE?: string
  KAFKA_TLS_SERVERNAME?: string
  KAFKA_SASL_MECHANISM?: SaslMechanism
  KAFKA_SASL_USERNAME?: string
  KAFKA_SASL_USERNAME_FILE?: string
  KAFKA_SASL_PASSWORD?: string
  KAFKA_SASL_PASSWORD_FILE?: string
}

export interface KafkaSecurity {
  ssl?: TlsOptions
  sasl?: { mechanism: SaslMechanism; username: string; password: string }
}

export function kafkaSecurityFromEnv(e: KafkaSecurityEnv): KafkaSecurity {
  for (const name of [
    'KAFKA_TLS_CA_FILE',
    'KAFKA_TLS_CERT_FILE',
    'KAFKA_TLS_KEY_FILE',
    'KAFKA_TLS_SERVERNAME',
  ] as const) {
    requireThat(e.KAFKA_TLS || e[name] === undefined, name, 'is set but KAFKA_TLS is not true')
  }
  requireThat(
    (e.KAFKA_TLS_CERT_FILE === undefined) === (e.KAFKA_TLS_KEY_FILE === undefined),
    e.KAFKA_TLS_CERT_FILE === undefined ? 'KAFKA_TLS_CERT_FILE' : 'KAFKA_TLS_KEY_FILE',
    'and its pair (KAFKA_TLS_CERT_FILE / KAFKA_TLS_KEY_FILE) go together',
  )
  const env = e as unknown as Record<string, string | undefined>
  const username = valueOrFile(env, 'KAFKA_SASL_USERNAME')
  const password = valueOrFile(env, 'KAFKA_SASL_PASSWORD')
  const security: KafkaSecurity = {}
  if (e.KAFKA_TLS) {
    security.ssl = {
      ...(e.KAFKA_TLS_CA_FILE && { ca: readSettingFile('KAFKA_TLS_CA_FILE', e.KAFKA_TLS_CA_FILE) }),
      ...(e.KAFKA_TLS_CERT_FILE && { cert: readSettingFile('KAFKA_TLS_CERT_FILE', e.KAFKA_TLS_CERT_FILE) }),
      ...(e.KAFKA_TLS_KEY_FILE && { key: readSettingFile('KAFKA_TLS_KEY_FILE', e.KAFKA_TLS_KEY_FILE) }),
      ...(e.KAFKA_TLS_SERVERNAME && { servername: e.KAFKA_TLS_SERVERNAME }),
    }
  }
  if (e.KAFKA_SASL_MECHANISM === undefined) {
    requireThat(
      username === undefined && password === undefined,
      username === undefined ? 'KAFKA_SASL_PASSWORD' : 'KAFKA_SASL_USERNAME',
      'is set but KAFKA_SASL_MECHANISM is not',
    )
    return security
  }
  requireThat(username !== undefined, 'KAFKA_SASL_USERNAME', `is required with KAFKA_SASL_MECHANISM`)
  requireThat(password !== undefined, 'KAFKA_SASL_PASSWORD', `is required with KAFKA_SASL_MECHANISM`)
  security.sasl = { mechanism: e.KAFKA_SASL_MECHANISM, username, password }
  return security
}

/** kafkajs's own shape for these settings. */
export function kafkaSecurityConfig(s: KafkaSecurity): Pick<KafkaConfig, 'ssl' | 'sasl'> {
  return {
    ...(s.ssl && { ssl: s.ssl }),
    ...(s.sasl && { sasl: s.sasl as SASLOptions }),
  }
}

/**
 * One connection to the brokers without retries, before the consumer group: kafkajs would retry a
 * refused certificate as a connection error for half a minute and then fail with a generic message.
 * A refusal of the credentials or the certificate becomes a ConfigError naming the setting (exit 78);
 * unavailability is left to the normal start, which retries.
 */
export async function checkKafkaAccess(
  brokers: string[],
  security: KafkaSecurity,
  onUnavailable: (err: Error) => void,
): Promise<void> {
  const admin = new Kafka({
    clientId: 'tidings-dispatcher-access-check',
    brokers,
    ...kafkaSecurityConfig(security),
    logLevel: logLevel.NOTHING,
    connectionTimeout: 5000,
    retry: { retries: 0 },
  }).admin()
  try {
    await admin.connect()
  } catch (err) {
    const error = err as Error & { cause?: Error & { code?: string }; code?: string }
    if (error.name === 'KafkaJSSASLAuthenticationError')
      throw new ConfigError(
        `KAFKA_SASL_PASSWORD (or KAFKA_SASL_USERNAME / KAFKA_SASL_MECHANISM) was refused by the broker: ${error.message}`,
        'KAFKA_SASL_PASSWORD',
      )
    const code = error.cause?.code ?? error.code ?? ''
    if (CERTIFICATE_ERROR_CODES.has(code) || /certificate/i.test(error.message))
      throw new ConfigError(
        `KAFKA_TLS_CA_FILE does not vouch for the broker certificate (${code || 'TLS'}): ${error.message}`,
        'KAFKA_TLS_CA_FILE',
      )
    if (security.ssl && /wrong version number|EPROTO/i.test(`${error.message} ${code}`))
      throw new ConfigError(
        `KAFKA_TLS is on but the broker does not speak TLS there: ${error.message}`,
        'KAFKA_TLS',
      )
    onUnavailable(error)
  } finally {
    await admin.disconnect().catch(() => undefined)
  }
}
