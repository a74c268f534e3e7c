// A private single-node KRaft broker (combined broker + controller) on free ports, in its own temp dir.
import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { closeSync, existsSync, openSync, readFileSync, writeFileSync } from 'node:fs'
import { connect } from 'node:net'
import { join } from 'node:path'
import { ensureKafkaJars, kafkaVersion } from './kafka-jars.ts'
import { probeKafka } from './kafka-probe.ts'
import { freePorts } from './ports.ts'
import { terminate } from './process.ts'
import { reapStale } from './reaper.ts'
import {
  failStart,
  launch,
  once,
  persist,
  prepareServer,
  type Server,
  stopServer,
  waitUntilReady,
} from './server.ts'

export interface KafkaServer {
  brokers: string[]
  stop(): Promise<void>
  /** A graceful stop (SIGTERM), then the same broker again: same ports, same data (chaos tests). */
  restart(): Promise<void>
}

/**
 * A broker that also has a SASL_SSL listener (what production clusters run): TLS with the given
 * certificates (a client certificate is requested, not required) and SASL with SCRAM-SHA-256,
 * SCRAM-SHA-512 (credentials written at storage-format time, as `kafka-storage format --add-scram`
 * does) and PLAIN. `brokers` stays the plaintext listener, for the launcher's probe and test set-up.
 */
export interface SecureKafkaOptions {
  /** PEM files (test/infra/certs.ts). */
  caFile: string
  serverCertFile: string
  serverKeyFile: string
  /** name → password, valid for every mechanism. */
  users: Record<string, string>
}

export interface SecureKafkaServer extends KafkaServer {
  saslSslBrokers: string[]
}

const host = '127.0.0.1'

/**
 * Measured on 2 cores (README.md): SerialGC + C1 only start the broker ~0.6 s faster than the defaults
 * (G1 + C2). TIDINGS_KAFKA_JVM_OPTS replaces them, e.g. for benchmarks that want C2's throughput.
 */
function jvmOptions(): string[] {
  const custom = process.env.TIDINGS_KAFKA_JVM_OPTS
  if (custom) return custom.split(/\s+/).filter(Boolean)
  return ['-Xmx512m', '-Xms256m', '-XX:+UseSerialGC', '-XX:TieredStopAtLevel=1']
}

interface SecureListener extends SecureKafkaOptions {
  port: number
  /** One PEM file with the server's private key and certificate (Kafka's PEM key store). */
  keyStoreFile: string
}

function secureProperties(s: SecureListener): string[] {
  const plainUsers = Object.entries(s.users)
    .map(([name, password]) => `user_${name}="${password}"`)
    .join(' ')
  const l = 'listener.name.sasl_ssl'
  return [
    'sasl.enabled.mechanisms=SCRAM-SHA-256,SCRAM-SHA-512,PLAIN',
    `${l}.scram-sha-256.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;`,
    `${l}.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;`,
    `${l}.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required ${plainUsers};`,
    'ssl.keystore.type=PEM',
    `ssl.keystore.location=${s.keyStoreFile}`,
    'ssl.truststore.type=PEM',
    `ssl.truststore.location=${s.caFile}`,
    'ssl.client.auth=requested',
  ]
}

function serverProperties(
  dir: string,
  port: number,
  controllerPort: number,
  secure?: SecureListener,
): string {
  const sasl = secure ? `,SASL_SSL://${host}:${secure.port}` : ''
  return `${[
    'process.roles=broker,controller',
    'node.id=1',
    `controller.quorum.voters=1@${host}:${controllerPort}`,
    `listeners=PLAINTEXT://${host}:${port},CONTROLLER://${host}:${controllerPort}${sasl}`,
    `advertised.listeners=PLAINTEXT://${host}:${port}${sasl}`,
    'controller.listener.names=CONTROLLER',
    `listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT${secure ? ',SASL_SSL:SASL_SSL' : ''}`,
    ...(secure ? secureProperties(secure) : []),
    'inter.broker.listener.name=PLAINTEXT',
    `log.dirs=${join(dir, 'data')}`,
    'num.partitions=1',
    // One broker: internal topics cannot have more replicas than that.
    'offsets.topic.replication.factor=1',
    'transaction.state.log.replication.factor=1',
    'transaction.state.log.min.isr=1',
    'share.coordinator.state.topic.replication.factor=1', // Kafka 4; 3.x ignores unknown keys
    'share.coordinator.state.topic.min.isr=1',
    // Consumers in tests join one at a time: do not wait 3 s for more members.
    'group.initial.rebalance.delay.ms=0',
    // One broker, so one coordinator anyway; creating 50 partitions on first use costs ~0.4 s of start-up.
    'offsets.topic.num.partitions=1',
  ].join('\n')}\n`
}

/** Log to a file in the temp dir, never the console. Kafka 3 reads log4j 1 syntax, Kafka 4 log4j2. */
function writeLogConfigs(dir: string): string[] {
  const log = join(dir, 'server.log')
  writeFileSync(
    join(dir, 'log4j.properties'),
    [
      'log4j.rootLogger=INFO, file',
      'log4j.appender.file=org.apache.log4j.FileAppender',
      `log4j.appender.file.File=${log}`,
      'log4j.appender.file.layout=org.apache.log4j.PatternLayout',
      'log4j.appender.file.layout.ConversionPattern=[%d] %p %m (%c)%n',
      '',
    ].join('\n'),
  )
  writeFileSync(
    join(dir, 'log4j2.properties'),
    [
      'appender.file.type=File',
      'appender.file.name=file',
      `appender.file.fileName=${log}`,
      'appender.file.layout.type=PatternLayout',
      'appender.file.layout.pattern=[%d] %p %m (%c)%n',
      'rootLogger.level=info',
      'rootLogger.appenderRef.file.ref=file',
      '',
    ].join('\n'),
  )
  return [
    `-Dlog4j.configuration=file:${join(dir, 'log4j.properties')}`,
    `-Dlog4j2.configurationFile=${join(dir, 'log4j2.properties')}`,
  ]
}

/** Kafka's Uuid.randomUuid(): 16 random bytes, URL-safe base64 without padding, never starting with '-'. */
function clusterId(): string {
  for (;;) {
    const id = randomBytes(16).toString('base64url')
    if (!id.startsWith('-')) return id
  }
}

/**
 * What kafka-storage.sh format does: a short-lived JVM writing meta.properties into log.dirs. Without a
 * logging config it logs to the console, i.e. to format.log, keeping server.log for the broker.
 */
function formatStorage(dir: string, classpath: string, users: Record<string, string> = {}): Promise<void> {
  const logFile = join(dir, 'format.log')
  const fd = openSync(logFile, 'a')
  const args = ['-Xmx256m', '-XX:+UseSerialGC', '-XX:TieredStopAtLevel=1', '-cp', classpath]
  args.push('kafka.tools.StorageTool', 'format', '-t', clusterId(), '-c', join(dir, 'server.properties'))
  // SCRAM credentials go into the metadata log with the format (KRaft has no ZooKeeper to hold them).
  for (const [name, password] of Object.entries(users)) {
    for (const mechanism of ['SCRAM-SHA-256', 'SCRAM-SHA-512'])
      args.push('--add-scram', `${mechanism}=[name=${name},password=${password}]`)
  }
  const child = spawn('java', args, { cwd: dir, stdio: ['ignore', fd, fd] })
  closeSync(fd)
  return new Promise((resolve, reject) => {
    child.once('error', (error) => reject(new Error(`cannot run java: ${error.message}`)))
    child.once('exit', (code, signal) => {
      if (code === 0) resolve()
      else reject(new Error(`kafka storage format failed (${signal ?? `exit code ${code}`}), see ${logFile}`))
    })
  })
}

function acceptsConnections(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port })
    socket.once('connect', () => {
      socket.destroy()
      resolve(true)
    })
    socket.once('error', () => resolve(false))
  })
}

async function run(
  server: Server,
  version: string,
  libs: string,
  port: number,
  controllerPort: number,
  secure?: SecureListener,
) {
  const { dir } = server.entry
  const propsFile = join(dir, 'server.properties')
  writeFileSync(propsFile, serverProperties(dir, port, controllerPort, secure))
  const logArgs = writeLogConfigs(dir)
  server.logFiles.push(join(dir, 'format.log'), join(dir, 'server.log'))
  const classpath = `${libs}/*` // expanded by the java launcher itself
  // a restart keeps the data: the storage is formatted once
  if (!existsSync(join(dir, 'data', 'meta.properties'))) await formatStorage(dir, classpath, secure?.users)
  // The properties path is unique to this server and stays in /proc/<pid>/cmdline: our marker.
  await launch(
    server,
    'java',
    [...jvmOptions(), ...logArgs, '-cp', classpath, 'kafka.Kafka', propsFile],
    propsFile,
  )
  const brokers = [`${host}:${port}`]
  const what = `Kafka ${version} on ${brokers[0]}`
  await waitUntilReady(server, what, () => acceptsConnections(port), 60_000)
  // Listening is not serving: wait until a message makes it through a topic and a consumer group.
  await waitUntilReady(server, what, () => probeKafka(brokers), 60_000)
}

/** Internal: `persistentFor` (the env file of `cli.ts up`) is for `cli.ts up`; the public startKafka() is always a private, owned broker. */
export async function launchKafka(opts: { persistentFor?: string } = {}): Promise<KafkaServer> {
  const version = kafkaVersion()
  const [libs] = await Promise.all([ensureKafkaJars(version), reapStale()])
  const [port, controllerPort] = (await freePorts(2)) as [number, number]
  const server = prepareServer('kafka', `${host}:${port}`)
  try {
    await run(server, version, libs, port, controllerPort)
  } catch (error) {
    await failStart(server, error)
  }
  if (opts.persistentFor) persist(server, opts.persistentFor)
  return {
    brokers: [`${host}:${port}`],
    stop: once(() => stopServer(server)),
    restart: async () => {
      await terminate(server.entry, server.entry.marker, 30_000)
      try {
        await run(server, version, libs, port, controllerPort)
      } catch (error) {
        await failStart(server, error)
      }
    },
  }
}

/** A fresh private broker with a SASL_SSL listener besides the plaintext one (see SecureKafkaOptions). */
export async function startSecureKafka(options: SecureKafkaOptions): Promise<SecureKafkaServer> {
  const version = kafkaVersion()
  const [libs] = await Promise.all([ensureKafkaJars(version), reapStale()])
  const [port, controllerPort, securePort] = (await freePorts(3)) as [number, number, number]
  const server = prepareServer('kafka', `${host}:${port}`)
  const keyStoreFile = join(server.entry.dir, 'server-keystore.pem')
  writeFileSync(
    keyStoreFile,
    readFileSync(options.serverKeyFile, 'utf8') + readFileSync(options.serverCertFile, 'utf8'),
  )
  const listener = { ...options, port: securePort, keyStoreFile }
  const start = async () => {
    try {
      await run(server, version, libs, port, controllerPort, listener)
    } catch (error) {
      await failStart(server, error)
    }
  }
  await start()
  return {
    brokers: [`${host}:${port}`],
    saslSslBrokers: [`${host}:${securePort}`],
    stop: once(() => stopServer(server)),
    restart: async () => {
      await terminate(server.entry, server.entry.marker, 30_000)
      await start()
    },
  }
}

/** A fresh private broker (KRaft, single node), version from TIDINGS_KAFKA_VERSION (default 3.9.1). */
export function startKafka(): Promise<KafkaServer> {
  return launchKafka()
}
