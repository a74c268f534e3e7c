// Frame dispatch: which part of the client each server frame goes to. `welcome` opens the session in
// steps shared by the connection and the delivery side; notifications and their kin are delivered in
// order; the rest concerns the connection.
import type { Connection } from './connection.ts'
import type { DeliveryQueue } from './delivery-queue.ts'
import { TidingsError } from './errors.ts'
import type { ResumePosition } from './resume.ts'
import type { Topics } from './topics.ts'
import type { ServerFrame, WelcomeFrame } from './wire.ts'

export interface FrameDispatchDeps {
  connection: Pick<
    Connection,
    | 'acks'
    | 'beginSession'
    | 'resumedFromPosition'
    | 'restartNow'
    | 'sessionOpened'
    | 'announceOpen'
    | 'reauthenticate'
    | 'pings'
    | 'restartHinted'
    | 'liveWebSocket'
  >
  delivery: Pick<DeliveryQueue, 'enqueue' | 'dropPending' | 'forgetSeen'>
  resume: Pick<ResumePosition, 'belongsToAnother' | 'forget'>
  topics: Pick<Topics, 'joinAll'>
  report: (error: TidingsError) => void
}

/** Returns the function that routes a frame of connection `gen`. */
export function frameDispatcher(deps: FrameDispatchDeps): (frame: ServerFrame, gen: number) => void {
  const { connection, delivery, resume, topics, report } = deps

  const welcome = (frame: WelcomeFrame): void => {
    if (!connection.beginSession(frame)) return
    if (resume.belongsToAnother(frame.userId)) {
      // The stored position belongs to someone else (no resetResume() at logout).
      resume.forget()
      connection.acks.reset()
      delivery.forgetSeen()
      delivery.dropPending()
      if (connection.resumedFromPosition) {
        connection.restartNow('resume position of another user')
        return
      }
    }
    connection.sessionOpened()
    topics.joinAll(connection.liveWebSocket)
    delivery.enqueue({ type: 'welcome', epoch: frame.epoch, userId: frame.userId })
    connection.announceOpen()
  }

  return (frame, gen) => {
    switch (frame.type) {
      case 'welcome':
        return welcome(frame)
      case 'missed':
      case 'notification':
      case 'broadcast':
        return delivery.enqueue(frame)
      case 'reauth':
        return void connection.reauthenticate(gen)
      case 'pong':
        return connection.pings.pong()
      case 'error':
        return report(
          new TidingsError('server', `server error ${frame.code}: ${frame.message}`, {
            serverCode: frame.code,
          }),
        )
      case 'reconnect':
        return connection.restartHinted(frame.afterMs)
      default:
        // subscribed / unsubscribed / authenticated, and frame types from a newer gateway.
        return
    }
  }
}
