// Public API of the test infrastructure (import from '@tidings/test/infra').
export { createTopics, uniqueName, type WaitForOptions, waitFor } from './helpers.ts'
export { type Infra, infraFromEnv, type StartInfraOptions, startInfra } from './infra.ts'
export { type JaegerServer, startJaeger } from './jaeger.ts'
export { type KafkaServer, startKafka } from './kafka.ts'
export { ensureKafkaJars, kafkaVersion } from './kafka-jars.ts'
export { freePorts } from './ports.ts'
export { type RedisCluster, type RedisServer, startRedis, startRedisCluster } from './redis.ts'
