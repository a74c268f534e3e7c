export type { AckOptions } from './acks.ts'
export type { BackoffOptions } from './backoff.ts'
export {
  type ConnectionState,
  createTidingsClient,
  type MissedEvent,
  type SessionInfo,
  type SseOptions,
  type StateEvent,
  type TidingsClient,
  type TidingsClientOptions,
  type TidingsEvents,
  type TokenReason,
} from './client.ts'
export type { Clock, TimerHandle } from './clock.ts'
export { TidingsError, type TidingsErrorKind } from './errors.ts'
export { TidingsGaveUpError } from './give-up.ts'
export {
  type BrowserNetworkTarget,
  browserNetwork,
  type NetInfoLike,
  type NetworkMonitor,
  netInfoNetwork,
} from './network.ts'
export type { EventSourceConstructor, EventSourceLike, FetchLike } from './sse.ts'
export {
  type AsyncStorageLike,
  asyncStorageAdapter,
  localStorageAdapter,
  memoryStorage,
  type ResumeState,
  type ResumeStorage,
  type StorageLike,
} from './storage.ts'
export type { TransportKind } from './transport.ts'
export type { WebSocketConstructor, WebSocketLike } from './websocket.ts'
export {
  type BroadcastFrame,
  CloseCode,
  ErrorCode,
  type MissedFrame,
  type Notification,
  type NotificationFrame,
  PROTOCOL_VERSION,
  type ServerFrame,
  SUBPROTOCOL,
  type WelcomeFrame,
} from './wire.ts'
