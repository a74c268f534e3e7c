// The package's API for tests and tools that run a dispatcher in-process (`main.ts` is the process).
export { type DispatcherConfig, DispatcherEnv, loadDispatcherConfig } from './config.ts'
export { DLQ_HEADERS } from './dead-letter.ts'
export { DEAD_LETTER_REASON_CODES, DEAD_LETTER_REASONS, type DeadLetterReason } from './reasons.ts'
export { createDispatcher, type Dispatcher, type DispatcherOptions } from './service.ts'
