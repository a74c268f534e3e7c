// The example push sender as a process: `pnpm --filter @tidings/push-sender start`.
// PUSH_TOPIC (default notifications.push) and KAFKA_BROKERS (default: the running `pnpm start` or
// `pnpm infra:up`). Every platform call is printed as one JSON line instead of being made.
import { liveEnvFile } from '@tidings/test/infra/env-file'
import { defaultEnvFile, stackEnvFile } from '@tidings/test/infra/paths'
import { Kafka, logLevel } from 'kafkajs'
import { startSender } from './sender.ts'

const brokers =
  process.env.KAFKA_BROKERS ??
  (await liveEnvFile(stackEnvFile))?.KAFKA_BROKERS ??
  (await liveEnvFile(defaultEnvFile))?.KAFKA_BROKERS
if (!brokers) {
  process.stderr.write('push-sender: set KAFKA_BROKERS (or start the stack with `pnpm start`)\n')
  process.exit(2)
}
const print = (line: Record<string, unknown>): void => {
  process.stdout.write(`${JSON.stringify(line)}\n`)
}
const consumer = await startSender({
  kafka: new Kafka({
    clientId: 'tidings-push-sender',
    brokers: brokers.split(','),
    logLevel: logLevel.NOTHING,
  }),
  topic: process.env.PUSH_TOPIC ?? 'notifications.push',
  groupId: process.env.PUSH_SENDER_GROUP ?? 'tidings-push-sender',
  // your device registry goes here; the demo pretends every user has one phone
  devicesOf: (userId) => [`device-token-of-${userId}`],
  send: async (call) => {
    print({ msg: 'would call FCM and APNs', ...call })
  },
  log: print,
})
print({ msg: 'push sender started', brokers })
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => void consumer.disconnect().finally(() => process.exit(0)))
}
