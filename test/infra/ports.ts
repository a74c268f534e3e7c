import { createServer, type Server } from 'node:net'

function listenOnFreePort(): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => resolve(server))
  })
}

/**
 * n distinct free TCP ports on 127.0.0.1, chosen by the kernel (bind to port 0). All sockets are held
 * until every port is known so one call never returns the same port twice; another process can still
 * take a port before our server binds it, a race the callers accept (a bind failure is reported).
 */
export async function freePorts(n: number): Promise<number[]> {
  const servers = await Promise.all(Array.from({ length: n }, listenOnFreePort))
  const ports = servers.map((s) => {
    const address = s.address()
    if (address === null || typeof address === 'string') throw new Error('unexpected socket address')
    return address.port
  })
  await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))))
  return ports
}
