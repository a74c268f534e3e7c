// The app side of the e2e tests: borrowers connecting to a gateway with a real WebSocket client.
import assert from 'node:assert/strict'
import type { MissedFrame, NotificationFrame, WelcomeFrame } from '@tidings/contracts'
import { uniqueName } from '../infra/index.ts'
import { signUserToken } from '../support/tokens.ts'
import { type OpenOptions, openSocket, type TestSocket } from '../support/ws-client.ts'

export interface UserSocket extends TestSocket {
  welcome: WelcomeFrame
  /** The notification frames received so far, in arrival order. */
  notifications(): NotificationFrame[]
}

/** A borrower id no other test (or run) uses. */
export const newUserId = (label = 'b'): string => uniqueName(label)

/** Opens a socket for the user (a fresh 1 h token unless given) and waits for `welcome`. */
export async function connectUser(
  baseUrl: string,
  userId: string,
  opts: Omit<OpenOptions, 'token'> & { token?: string } = {},
): Promise<UserSocket> {
  const token = opts.token ?? (await signUserToken(userId))
  const socket = await openSocket(baseUrl, { ...opts, token })
  const welcome = await socket.next('welcome')
  assert.equal(welcome.userId, userId)
  return Object.assign(socket, {
    welcome,
    notifications: () => socket.frames.filter((f): f is NotificationFrame => f.type === 'notification'),
  })
}

/** Seqs must be `from`, `from + 1`, … with no gap or repetition. */
export function assertContiguous(seqs: number[], from: number, what: string): void {
  seqs.forEach((seq, i) => {
    if (seq !== from + i) {
      assert.fail(`${what}: expected seq ${from + i} at position ${i}, got ${seq} (seqs: ${seqs.join(',')})`)
    }
  })
}

/** An HTTP status from a refused upgrade (openSocket rejects with `{ status, body }`). */
export async function refusal(promise: Promise<unknown>): Promise<{ status: number; body: string }> {
  try {
    const socket = (await promise) as TestSocket
    await socket.close()
  } catch (error) {
    const e = error as { status?: number; body?: string }
    if (typeof e.status === 'number') return { status: e.status, body: e.body ?? '' }
    throw error
  }
  return assert.fail('the upgrade was accepted, expected an HTTP refusal')
}

/**
 * Sends `ping` and waits for its `pong`. The gateway answers inbound frames only after the session's
 * start (welcome + replay) and in order, so once the pong is there the replay is complete: what the
 * socket holds is everything the replay sent, without sleeping.
 */
export async function settle(socket: UserSocket): Promise<NotificationFrame[]> {
  const pongs = socket.frames.filter((f) => f.type === 'pong').length
  socket.send({ type: 'ping' })
  await socket.waitForCount('pong', pongs + 1)
  return socket.notifications()
}

export interface ClientSession {
  baseUrl: string
  socket: UserSocket
  epoch: string
  missed: MissedFrame | undefined
  /** Seqs of the notifications of this session, in arrival order. */
  seqs: number[]
  notifications: NotificationFrame[]
  /** Receive time (Date.now()) of each notification, same order. */
  receivedAt: number[]
  openedAt: number
  welcomedAt: number
  closed: { code: number; reason: string } | undefined
}

/**
 * What an app does (packages/client, reduced to the protocol): remembers the last seq and epoch it
 * saw, resumes with them on the next connect, acks cumulatively every `ackEvery` notifications.
 * Reconnecting is left to the test, which chooses the gateway and the moment.
 */
export class ResumingClient {
  readonly userId: string
  readonly sessions: ClientSession[] = []
  lastSeq = 0
  epoch: string | undefined
  private readonly ackEvery: number
  private onClose: ((session: ClientSession) => void) | undefined

  constructor(userId: string, opts: { ackEvery?: number } = {}) {
    this.userId = userId
    this.ackEvery = opts.ackEvery ?? 0
  }

  /** Called once per session when the server (or the network) closes it. */
  whenClosed(fn: (session: ClientSession) => void): void {
    this.onClose = fn
  }

  get current(): ClientSession | undefined {
    return this.sessions.at(-1)
  }

  /** Every notification seq received over all sessions. */
  allSeqs(): number[] {
    return this.sessions.flatMap((s) => s.seqs)
  }

  async connect(baseUrl: string): Promise<ClientSession> {
    const openedAt = Date.now()
    const query: Record<string, string | number> =
      this.epoch === undefined ? {} : { lastSeq: this.lastSeq, epoch: this.epoch }
    const socket = await connectUser(baseUrl, this.userId, { query })
    const session: ClientSession = {
      baseUrl,
      socket,
      epoch: socket.welcome.epoch,
      missed: undefined,
      seqs: [],
      notifications: [],
      receivedAt: [],
      openedAt,
      welcomedAt: Date.now(),
      closed: undefined,
    }
    this.sessions.push(session)
    if (this.epoch !== session.epoch) this.lastSeq = 0
    this.epoch = session.epoch
    // frames that arrived with the welcome are already recorded: take them, then follow new ones
    let handled = socket.frames.indexOf(socket.welcome) + 1
    const take = () => {
      for (; handled < socket.frames.length; handled++) {
        const f = socket.frames[handled]!
        if (f.type === 'missed') session.missed = f
        if (f.type !== 'notification') continue
        session.seqs.push(f.seq)
        session.notifications.push(f)
        session.receivedAt.push(Date.now())
        this.lastSeq = f.seq
        if (this.ackEvery > 0 && f.seq % this.ackEvery === 0) socket.send({ type: 'ack', seq: f.seq })
      }
    }
    // after ws-client's own listener (registered first), so `frames` already holds the frame
    socket.ws.on('message', take)
    take()
    void socket.closed.then((c) => {
      take()
      session.closed = c
      this.onClose?.(session)
    })
    return session
  }
}
