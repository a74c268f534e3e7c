// Secured connections end to end, over real processes: Kafka with a SASL_SSL listener (SCRAM
// credentials written at storage-format time, a throwaway CA made with openssl) and a TLS-only
// redis-server with requirepass and an ACL user. The dispatcher and two gateways run with the
// settings an operator would mount from Secrets (passwords in files), and an event reaches a socket.
// Wrong credentials or a CA that does not vouch for the server stop a service at start with exit
// code 78 and a line naming the setting, instead of a retry loop.
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, afterEach, before, test } from 'node:test'
import type { Producer } from 'kafkajs'
import {
  type Certificates,
  makeCertificates,
  type SecureKafkaServer,
  type SecureRedisServer,
  startSecureKafka,
  startSecureRedis,
} from '../infra/index.ts'
import { TEST_JWT_SECRET } from '../support/tokens.ts'
import { loanDecision, produce } from './kafka.ts'
import { dispatcherEntry, gatewayEntry } from './processes.ts'
import { type Stack, startStackAndProducer } from './stack.ts'
import { connectUser, newUserId } from './users.ts'

const KAFKA_USER = 'tidings-dispatcher'
const KAFKA_PASSWORD = 'kafka-password-0123456789'
const REDIS_USER = { name: 'tidings-app', password: 'redis-user-password-0123456789' }

let certs: Certificates
let kafka: SecureKafkaServer
let redis: SecureRedisServer
let stack: Stack
let producer: Producer
let secrets: string

const secretFile = (name: string, value: string) => {
  const path = join(secrets, name)
  writeFileSync(path, `${value}\n`) // as `kubectl create secret --from-file` leaves it
  return path
}

function redisEnv(password = REDIS_USER.password, caFile = certs.caFile): Record<string, string> {
  return {
    REDIS_URL: redis.url,
    REDIS_USERNAME: REDIS_USER.name,
    REDIS_PASSWORD_FILE: secretFile(`redis-password-${password.length}-${caFile.length}`, password),
    REDIS_TLS_CA_FILE: caFile,
  }
}

function kafkaEnv(
  password = KAFKA_PASSWORD,
  caFile = certs.caFile,
  mechanism = 'scram-sha-512',
): Record<string, string> {
  return {
    KAFKA_BROKERS: kafka.saslSslBrokers.join(','),
    KAFKA_TLS: 'true',
    KAFKA_TLS_CA_FILE: caFile,
    // the broker requests a client certificate: send one (mTLS)
    KAFKA_TLS_CERT_FILE: certs.clientCertFile,
    KAFKA_TLS_KEY_FILE: certs.clientKeyFile,
    KAFKA_SASL_MECHANISM: mechanism,
    KAFKA_SASL_USERNAME: KAFKA_USER,
    KAFKA_SASL_PASSWORD_FILE: secretFile(`kafka-password-${password.length}`, password),
  }
}

before(async () => {
  secrets = mkdtempSync(join(tmpdir(), 'tidings-secrets-'))
  certs = await makeCertificates()
  ;[kafka, redis] = await Promise.all([
    startSecureKafka({ ...certs, users: { [KAFKA_USER]: KAFKA_PASSWORD } }),
    startSecureRedis({ ...certs, password: 'default-user-password-0123', user: REDIS_USER }),
  ])
  ;({ stack, producer } = await startStackAndProducer({
    name: 'e2e-secure',
    redisUrl: redis.url,
    // topics are created and events produced on the plaintext listener (the backend's side is not
    // under test); the dispatcher itself only talks SASL_SSL
    kafkaBrokers: kafka.brokers,
    gateways: 2,
    gatewayEnv: redisEnv(),
    dispatcherEnv: { ...redisEnv(), ...kafkaEnv() },
  }))
})
afterEach((t) => stack?.check(t))
after(async () => {
  await producer?.disconnect()
  await stack?.stop()
  await Promise.all([kafka?.stop(), redis?.stop()])
  for (const dir of [secrets, certs?.dir]) if (dir) rmSync(dir, { recursive: true, force: true })
})

test('an event goes Kafka (SASL_SSL, SCRAM-SHA-512, mTLS) → dispatcher → Redis (TLS, ACL user) → gateway → socket', async () => {
  const user = newUserId('secure')
  const socket = await connectUser(stack.gateways[1]!.baseUrl, user)
  try {
    const sent = loanDecision(user, { decision: 'APPROVED' })
    await produce(producer, stack.topics.loanDecisions, user, sent)
    const n = await socket.next('notification')
    assert.equal(n.data?.loanId, sent.loanId)
    assert.equal(n.seq, 1)
  } finally {
    socket.close()
  }
})

/** Runs a service with `env` and resolves with its exit code and stderr. */
async function runToExit(
  entry: string,
  env: Record<string, string>,
): Promise<{ code: number; stderr: string }> {
  const child = spawn(process.execPath, ['--disable-warning=TimeoutNegativeWarning', entry], {
    env: { PATH: process.env.PATH ?? '', LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  })
  let stderr = ''
  child.stderr.on('data', (c: Buffer) => {
    stderr += c
  })
  const [code] = (await once(child, 'exit')) as [number]
  return { code, stderr }
}

const gatewayEnv = (redis: Record<string, string>) => ({
  ...redis,
  PORT: '0',
  HOST: '127.0.0.1',
  JWT_ALGORITHMS: 'HS256',
  JWT_SECRET: TEST_JWT_SECRET,
  DEV_MODE: 'true', // the test secret, no issuer/audience: what the e2e stack runs with
})

test('gateway: a wrong Redis password stops it with exit 78 naming REDIS_PASSWORD', async () => {
  const r = await runToExit(gatewayEntry, gatewayEnv(redisEnv('not-the-password')))
  assert.equal(r.code, 78)
  assert.match(r.stderr, /^gateway: configuration error: REDIS_PASSWORD was refused by Redis .*WRONGPASS/m)
})

test('gateway: a CA that did not sign the Redis certificate stops it naming REDIS_TLS_CA_FILE', async () => {
  const r = await runToExit(gatewayEntry, gatewayEnv(redisEnv(REDIS_USER.password, certs.otherCaFile)))
  assert.equal(r.code, 78)
  assert.match(r.stderr, /^gateway: configuration error: REDIS_TLS_CA_FILE does not vouch/m)
})

test('dispatcher: a wrong SASL password stops it with exit 78 naming KAFKA_SASL_PASSWORD', async () => {
  const r = await runToExit(dispatcherEntry, {
    ...redisEnv(),
    ...kafkaEnv('not-the-password', certs.caFile, 'scram-sha-256'),
    HTTP_PORT: '0',
  })
  assert.equal(r.code, 78)
  assert.match(r.stderr, /^dispatcher: configuration error: KAFKA_SASL_PASSWORD .*refused by the broker/m)
})

test('dispatcher: a CA that did not sign the broker certificate stops it naming KAFKA_TLS_CA_FILE', async () => {
  const r = await runToExit(dispatcherEntry, {
    ...redisEnv(),
    ...kafkaEnv(KAFKA_PASSWORD, certs.otherCaFile),
    HTTP_PORT: '0',
  })
  assert.equal(r.code, 78)
  assert.match(r.stderr, /^dispatcher: configuration error: KAFKA_TLS_CA_FILE does not vouch/m)
})

test('dispatcher: a wrong Redis password stops it naming REDIS_PASSWORD', async () => {
  const r = await runToExit(dispatcherEntry, { ...redisEnv('nope-nope'), ...kafkaEnv(), HTTP_PORT: '0' })
  assert.equal(r.code, 78)
  assert.match(r.stderr, /^dispatcher: configuration error: REDIS_PASSWORD was refused/m)
})
