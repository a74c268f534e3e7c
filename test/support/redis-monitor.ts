import { EventEmitter, once } from 'node:events'
import { connect } from 'node:net'
import { encodeCommand } from '../infra/resp.ts'

/** Every command Redis runs, as MONITOR reports it: `on('monitor', (time, args) => …)`. */
export interface RedisMonitor {
  on(event: 'monitor', listener: (time: string, args: string[]) => void): this
  off(event: 'monitor', listener: (time: string, args: string[]) => void): this
  disconnect(): void
}

/**
 * MONITOR of the Redis at `url` (`redis://[user:password@]host:port`, no TLS), for tests: which
 * commands reach Redis. Not ioredis's `monitor()`: it switches its connection to monitoring a turn
 * after MONITOR's reply, so a line of traffic that arrives with that reply (any client's: other test
 * files run beside this one) meets an empty command queue and is thrown, uncaught ("Command queue
 * state error"). Here every line after the +OKs is a monitor line. Arguments are parsed as ioredis does.
 */
export async function monitorRedis(url: string): Promise<RedisMonitor> {
  const u = new URL(url)
  const socket = connect(Number(u.port || 6379), u.hostname)
  await once(socket, 'connect')
  const emitter = new EventEmitter()
  const auth = u.password
    ? [...(u.username ? [decodeURIComponent(u.username)] : []), decodeURIComponent(u.password)]
    : []
  let oks = auth.length > 0 ? 2 : 1
  if (auth.length > 0) socket.write(encodeCommand(['AUTH', ...auth]))
  socket.write(encodeCommand(['MONITOR']))
  socket.setEncoding('utf8')
  const started = Promise.withResolvers<void>()
  let buffered = ''
  socket.on('data', (chunk: string) => {
    buffered += chunk
    for (let end = buffered.indexOf('\r\n'); end >= 0; end = buffered.indexOf('\r\n')) {
      const line = buffered.slice(0, end)
      buffered = buffered.slice(end + 2)
      if (line.startsWith('-')) started.reject(new Error(`MONITOR: ${line.slice(1)}`))
      else if (oks > 0 && line === '+OK') {
        if (--oks === 0) started.resolve()
      } else if (line.startsWith('+')) {
        const text = line.slice(1)
        const quote = text.indexOf('"')
        const args = text
          .slice(quote + 1, -1)
          .split('" "')
          .map((a) => a.replace(/\\"/g, '"'))
        emitter.emit('monitor', text.slice(0, text.indexOf(' ')), args)
      }
    }
  })
  socket.once('error', (err) => started.reject(err))
  await started.promise
  const monitor: RedisMonitor = {
    on(event, listener) {
      emitter.on(event, listener)
      return monitor
    },
    off(event, listener) {
      emitter.off(event, listener)
      return monitor
    },
    disconnect: () => socket.destroy(),
  }
  return monitor
}
