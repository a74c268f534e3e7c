// JSON Schema (draft-07) files generated from the TypeBox schemas, so that producers and apps in other
// languages validate exactly what the services validate. Written to docs/schemas/ by
// `pnpm --filter @tidings/contracts schemas`; json-schemas.test.ts fails when the checked-in files are stale.
import { type TSchema, Type } from '@sinclair/typebox'
import { LoanDecisionEvent, NotificationRequestedEvent } from './events.ts'
import { Notification } from './notification.ts'
import {
  AckFrame,
  AuthenticatedFrame,
  AuthFrame,
  BroadcastFrame,
  ErrorFrame,
  HealthResponse,
  HttpErrorBody,
  InboxAckRequest,
  InboxResponse,
  MissedFrame,
  NotificationFrame,
  PingFrame,
  PongFrame,
  PresenceResponse,
  ReauthFrame,
  ReconnectFrame,
  SseCloseFrame,
  SubscribedFrame,
  TopicFrame,
  WelcomeFrame,
} from './protocol.ts'
import { PushRequest } from './push.ts'

// In CloudEvents mode (either) `eventId` and `occurredAt` may be left out of the data: the dispatcher
// takes them from the CE `id` and `time` (decode.ts); occurredAt only when the CE has a `time`, a rule
// across envelope and data that these files state in words (docs/asyncapi.yaml, as far as a schema
// can). Derived here, not wire types the code uses.
const cloudEventData = <T extends typeof LoanDecisionEvent | typeof NotificationRequestedEvent>(schema: T) =>
  Type.Composite([
    Type.Omit(schema, ['eventId', 'occurredAt']),
    Type.Partial(Type.Pick(schema, ['eventId', 'occurredAt'])),
  ])

interface SchemaFile {
  readonly file: string
  readonly title: string
  readonly description: string
  readonly schema: TSchema
  /** Rules the TypeBox schema leaves to code (validate.ts) but other languages' validators can check. */
  readonly extra?: Record<string, unknown>
}

export const SCHEMA_FILES: readonly SchemaFile[] = [
  {
    file: 'loan-decision-event.json',
    title: 'LoanDecisionEvent',
    description: 'Value of a `loan.decisions` record (or `data` of a CloudEvent of type `loan.decision`).',
    schema: LoanDecisionEvent,
  },
  {
    file: 'notification-requested-event.json',
    title: 'NotificationRequestedEvent',
    description:
      'Value of a `notifications.requested` record (or `data` of a CloudEvent of type `notification.requested`): exactly one of userId or topic.',
    schema: NotificationRequestedEvent,
    // validate.ts checks this rule in code (TypeBox reports a failed oneOf poorly); the file states it.
    extra: { oneOf: [{ required: ['userId'] }, { required: ['topic'] }] },
  },
  {
    file: 'loan-decision-cloudevent-data.json',
    title: 'LoanDecisionCloudEventData',
    description:
      'The event of a `loan.decision` CloudEvent (binary mode: the value; structured mode: `data`). eventId defaults to the CE id, occurredAt to the CE time; occurredAt is required when the CloudEvent has no time (with neither, the event is dead-lettered as invalid_schema). The CE id and time follow the rules of eventId and occurredAt (at most 200 characters; this pattern, a real date) whether or not the data overrides them.',
    schema: cloudEventData(LoanDecisionEvent),
  },
  {
    file: 'notification-requested-cloudevent-data.json',
    title: 'NotificationRequestedCloudEventData',
    description:
      'The event of a `notification.requested` CloudEvent (binary mode: the value; structured mode: `data`). eventId defaults to the CE id, occurredAt to the CE time; occurredAt is required when the CloudEvent has no time (with neither, the event is dead-lettered as invalid_schema). The CE id and time follow the rules of eventId and occurredAt (at most 200 characters; this pattern, a real date) whether or not the data overrides them.',
    schema: cloudEventData(NotificationRequestedEvent),
    extra: { oneOf: [{ required: ['userId'] }, { required: ['topic'] }] },
  },
  {
    file: 'notification.json',
    title: 'Notification',
    description: 'The notification DTO an app receives.',
    schema: Notification,
  },
  {
    file: 'welcome-frame.json',
    title: 'WelcomeFrame',
    description: 'First frame of every session.',
    schema: WelcomeFrame,
  },
  {
    file: 'missed-frame.json',
    title: 'MissedFrame',
    description: 'Notifications in (afterSeq, nextSeq) are gone.',
    schema: MissedFrame,
  },
  {
    file: 'notification-frame.json',
    title: 'NotificationFrame',
    description: 'A notification for this user.',
    schema: NotificationFrame,
  },
  {
    file: 'broadcast-frame.json',
    title: 'BroadcastFrame',
    description: 'A live message to a broadcast topic.',
    schema: BroadcastFrame,
  },
  {
    file: 'subscribed-frame.json',
    title: 'SubscribedFrame',
    description: 'Reply to subscribe / unsubscribe.',
    schema: SubscribedFrame,
  },
  {
    file: 'reauth-frame.json',
    title: 'ReauthFrame',
    description: 'The token expires soon: send `auth`.',
    schema: ReauthFrame,
  },
  {
    file: 'authenticated-frame.json',
    title: 'AuthenticatedFrame',
    description: 'Reply to a good `auth`.',
    schema: AuthenticatedFrame,
  },
  { file: 'pong-frame.json', title: 'PongFrame', description: 'Reply to `ping`.', schema: PongFrame },
  {
    file: 'error-frame.json',
    title: 'ErrorFrame',
    description: 'A recoverable error; the socket stays open.',
    schema: ErrorFrame,
  },
  {
    file: 'reconnect-frame.json',
    title: 'ReconnectFrame',
    description: 'Graceful shutdown: reconnect after afterMs.',
    schema: ReconnectFrame,
  },
  {
    file: 'sse-close-frame.json',
    title: 'SseCloseFrame',
    description:
      'SSE only: the last event of a stream the server ends (`event: close`), with the close code.',
    schema: SseCloseFrame,
  },
  {
    file: 'ack-frame.json',
    title: 'AckFrame',
    description: 'Cumulative ack of everything up to seq.',
    schema: AckFrame,
  },
  {
    file: 'topic-frame.json',
    title: 'TopicFrame',
    description: 'Join or leave a broadcast topic.',
    schema: TopicFrame,
  },
  {
    file: 'auth-frame.json',
    title: 'AuthFrame',
    description: 'Replace the session token.',
    schema: AuthFrame,
  },
  { file: 'ping-frame.json', title: 'PingFrame', description: 'Application-level ping.', schema: PingFrame },
  {
    file: 'inbox-response.json',
    title: 'InboxResponse',
    description: 'Reply of GET /v1/inbox.',
    schema: InboxResponse,
  },
  {
    file: 'inbox-ack-request.json',
    title: 'InboxAckRequest',
    description: 'Body of POST /v1/inbox/ack.',
    schema: InboxAckRequest,
  },
  {
    file: 'presence-response.json',
    title: 'PresenceResponse',
    description: 'Reply of GET /v1/presence/:userId.',
    schema: PresenceResponse,
  },
  {
    file: 'http-error.json',
    title: 'HttpErrorBody',
    description: 'Body of every HTTP error of the gateway.',
    schema: HttpErrorBody,
  },
  {
    file: 'health-response.json',
    title: 'HealthResponse',
    description: 'GET /healthz and GET /readyz.',
    schema: HealthResponse,
  },
  {
    file: 'push-request.json',
    title: 'PushRequest',
    description:
      'Value of a push request on PUSH_TOPIC (the push hand-off), for a push sender to turn into FCM/APNs.',
    schema: PushRequest,
  },
]

/** The files' contents by file name, exactly as checked in. */
export function renderJsonSchemas(): Map<string, string> {
  const out = new Map<string, string>()
  for (const f of SCHEMA_FILES) {
    // JSON.stringify drops TypeBox's symbol keys ([Kind], [Optional]), leaving plain JSON Schema.
    const plain = JSON.parse(JSON.stringify(f.schema)) as Record<string, unknown>
    const doc = {
      $schema: 'http://json-schema.org/draft-07/schema#',
      title: f.title,
      description: f.description,
      ...plain,
      ...f.extra,
    }
    out.set(f.file, `${JSON.stringify(doc, null, 2)}\n`)
  }
  return out
}
