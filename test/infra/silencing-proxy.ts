// A TCP proxy whose open connections can be silenced: what a client sees when its server's host
// vanishes (powered off, partitioned, failed over to another machine behind the same address).
import { connect, createServer, type Socket } from 'node:net'

export interface SilencingProxy {
  /** `host:port` of the proxy. */
  port: number
  /**
   * From now on the connections open through the proxy carry nothing, either way, and are never
   * closed: no FIN, no RST, and the client's bytes are still acknowledged (read and dropped), so
   * only a client's own timeout can tell. Connections opened afterwards pass as before.
   */
  silenceOpenConnections(): number
  close(): Promise<void>
}

export async function startSilencingProxy(target: { host: string; port: number }): Promise<SilencingProxy> {
  const open = new Set<{ client: Socket; server: Socket; silent: boolean }>()
  const proxy = createServer((client) => {
    const server = connect(target.port, target.host)
    const pair = { client, server, silent: false }
    open.add(pair)
    client.on('data', (b) => pair.silent || server.write(b))
    server.on('data', (b) => pair.silent || client.write(b))
    const end = () => {
      open.delete(pair)
      client.destroy()
      server.destroy()
    }
    // a silenced connection stays open whatever the server does: closing it would tell the client
    client.on('close', end).on('error', () => undefined)
    server.on('close', () => pair.silent || end()).on('error', () => undefined)
  })
  await new Promise<void>((resolve, reject) => {
    proxy.once('error', reject)
    proxy.listen(0, '127.0.0.1', resolve)
  })
  const address = proxy.address()
  if (address === null || typeof address === 'string') throw new Error('unexpected proxy address')
  return {
    port: address.port,
    silenceOpenConnections() {
      let n = 0
      for (const pair of open) {
        if (pair.silent) continue
        pair.silent = true
        // the server side is of no further use; the client side is what stays open and mute
        pair.server.destroy()
        n++
      }
      return n
    },
    async close() {
      for (const { client, server } of open) {
        client.destroy()
        server.destroy()
      }
      open.clear()
      await new Promise((resolve) => proxy.close(resolve))
    },
  }
}
