// Public API of the test infrastructure (import from '@tidings/test/infra').

export { type Certificates, makeCertificates } from './certs.ts'
export { createTopics, uniqueName, type WaitForOptions, waitFor } from './helpers.ts'
export { checkGivenInfra, type Infra, infraFromEnv, type StartInfraOptions, startInfra } from './infra.ts'
export { type JaegerServer, startJaeger } from './jaeger.ts'
export {
  type KafkaServer,
  type SecureKafkaOptions,
  type SecureKafkaServer,
  startKafka,
  startSecureKafka,
} from './kafka.ts'
export { ensureKafkaJars, kafkaVersion } from './kafka-jars.ts'
export { freePorts } from './ports.ts'
export {
  type RedisCluster,
  type RedisServer,
  type SecureRedisOptions,
  type SecureRedisServer,
  startRedis,
  startRedisCluster,
  startSecureRedis,
} from './redis.ts'
export { type SilencingProxy, startSilencingProxy } from './silencing-proxy.ts'
