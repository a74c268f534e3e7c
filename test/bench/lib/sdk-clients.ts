// SDK clients for the reconnect storm (scale.ts): @tidings/client as an app runs it (WebSocket, SSE off),
// in the load generators, each bound to a 127.x source address. `urls` = [the gateway it starts on,
// then the others]: when its gateway dies the SDK goes round the list, resumes from the inbox, and
// dedupes what it had already shown.
import { createTidingsClient, type TidingsClient } from '@tidings/client'
import { WebSocket } from 'ws'

export interface SdkOpen {
  urls: string[]
  token: string
  localAddress: string
  onNotification(id: string): void
  /** Called with true when the client's connection opens (welcome), false when it drops. */
  onOpen(open: boolean): void
}

export async function openSdkClient(o: SdkOpen): Promise<{ close(): Promise<void> }> {
  const { localAddress } = o
  // the SDK constructs `new WebSocket(url, protocols)`: bind the source address here
  class BoundWebSocket extends WebSocket {
    constructor(url: string | URL, protocols?: string | string[]) {
      super(url, protocols, { localAddress, perMessageDeflate: false })
    }
  }
  let open = false
  const client: TidingsClient = createTidingsClient({
    urls: o.urls,
    getToken: () => o.token,
    sse: false,
    WebSocket: BoundWebSocket as unknown as NonNullable<
      Parameters<typeof createTidingsClient>[0]['WebSocket']
    >,
    backoff: { baseMs: 200, capMs: 2000 },
    onNotification: (n) => o.onNotification(n.id),
  })
  client.on('state', (e) => {
    const now = e.state === 'open'
    if (now !== open) {
      open = now
      o.onOpen(now)
    }
  })
  await client.connect()
  return {
    async close() {
      await client.close()
    },
  }
}
