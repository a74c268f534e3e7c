// The Markdown tables `pnpm bench` prints and appends to RESULTS.md, one per bench (e2e: e2e-report.ts).
import type { FanoutResult } from '../fanout.ts'
import type { ServerMemory } from '../memory.ts'
import type { RedisMemoryRun } from '../redis-memory.ts'
import type { TracingResult } from '../tracing.ts'
import { median } from './proc.ts'

const kib = (v: number) => v.toFixed(1)

export function memoryTable(rows: ServerMemory[], title: string): string {
  const rounds = Math.max(...rows.map((r) => r.round ?? 1))
  const lines = [
    `**${title}**`,
    '',
    '| server | sockets | RSS KiB/socket, after an ordinary GC (size pods by this) | × raw ws | after a last-resort GC (best case) | × raw ws | quiet pod, no forced GC | × raw ws | V8 heap B/socket | connect s | CPU µs/connect | × raw ws |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  ]
  const ratio = (v: number, base: number | undefined) => (base ? (v / base).toFixed(2) : '–')
  for (const r of rows) {
    // ratios within the round: the load of the machine moves CPU figures between rounds
    const ws = rows.find((x) => x.kind === 'ws' && x.round === r.round)
    const failedNote = r.failed ? ` (${r.failed} failed)` : ''
    const p = r.perSocket
    lines.push(
      `| ${r.kind}${rounds > 1 ? ` (round ${r.round})` : `: ${r.label}`} | ${r.sockets}${failedNote} | ${kib(p.rssOrdinaryGcKiB)} | ${ratio(p.rssOrdinaryGcKiB, ws?.perSocket.rssOrdinaryGcKiB)} | ${kib(p.rssKiB)} | ${ratio(p.rssKiB, ws?.perSocket.rssKiB)} | ${kib(p.rssIdleKiB)} | ${ratio(p.rssIdleKiB, ws?.perSocket.rssIdleKiB)} | ${p.heapUsedBytes} | ${r.connectSeconds} | ${r.cpuPerConnectUs} | ${ratio(r.cpuPerConnectUs, ws?.cpuPerConnectUs)} |`,
    )
  }
  if (rounds > 1) {
    // the medians over the rounds, each ratio of medians
    const med = (kind: string, f: (r: ServerMemory) => number) =>
      median(rows.filter((r) => r.kind === kind).map(f))
    const kindsSeen = [...new Set(rows.map((r) => r.kind))]
    for (const k of kindsSeen) {
      const m = (f: (r: ServerMemory) => number) => {
        const v = med(k, f)
        const base = kindsSeen.includes('ws') ? med('ws', f) : undefined
        return `${Number.isInteger(v) ? v : kib(v)} | ${ratio(v, base)}`
      }
      lines.push(
        `| **${k}, median of ${rounds}** | | ${m((r) => r.perSocket.rssOrdinaryGcKiB)} | ${m((r) => r.perSocket.rssKiB)} | ${m((r) => r.perSocket.rssIdleKiB)} | ${med(k, (r) => r.perSocket.heapUsedBytes)} | ${med(k, (r) => r.connectSeconds)} | ${m((r) => r.cpuPerConnectUs)} |`,
      )
    }
  }
  return lines.join('\n')
}

export function heapTable(rows: ServerMemory[]): string {
  const out: string[] = []
  for (const r of rows) {
    if (!r.heap) continue
    out.push(
      `**heap snapshot diff, ${r.kind}** (${r.sockets} sockets; V8 heap ${r.perSocket.heapUsedBytes} B/socket; shallow sizes)`,
      '',
      '| per socket: objects | bytes | constructor / kind |',
      '| ---: | ---: | --- |',
      ...r.heap.perSocket
        .filter((c) => c.key !== '(code)')
        .slice(0, 14)
        .map((c) => `| ${c.count} | ${c.bytes} | \`${c.key}\` |`),
      '',
    )
    const held = ['IncomingMessage', 'ServerResponse', '_Request', '_Reply']
      .map((cls) => [cls, r.heap!.retainers[cls]] as const)
      .filter(([, v]) => v?.some(([, n]) => n >= r.sockets))
    if (held.length) {
      out.push(
        `held per socket: ${held
          .map(
            ([cls, v]) =>
              `${cls} ← ${v!
                .filter(([, n]) => n >= r.sockets)
                .map(([h]) => `\`${h}\``)
                .join(', ')}`,
          )
          .join('; ')}`,
        '',
      )
    }
  }
  return out.join('\n')
}

export function fanoutTable(r: FanoutResult): string {
  const lines = [
    `**fan-out**: ${r.targets} users on gateway A (1 socket each), ${r.bystanders} other users on gateway B; ${r.rate} notifications/s for ${r.seconds} s per phase, only to A's users, through createDeliveryStore (the dispatcher's Lua script). Idle CPU over ${r.seconds} s: A ${r.idleCpuMs.a} ms, B ${r.idleCpuMs.b} ms.`,
    '',
    '| phase | sockets on A | published | received A | received B | p50 ms | p90 ms | p99 ms | max ms | CPU A ms | CPU B ms | A µs/notification |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  ]
  for (const p of r.phases) {
    const l = p.latencyMs
    lines.push(
      `| ${p.phase} | ${p.socketsOnA} | ${p.published} | ${p.receivedOnA} | ${p.receivedOnB} | ${l.p50} | ${l.p90} | ${l.p99} | ${l.max} | ${p.cpuMs.a} | ${p.cpuMs.b} | ${p.aMicrosPerNotification} |`,
    )
  }
  const subs = r.subscribersPerTargetChannel
  lines.push(
    '',
    `/metrics at the end: A tidings_ws_connections=${r.metrics.a.connections} tidings_redis_channels=${r.metrics.a.channels} tidings_notifications_live_total=${r.metrics.a.live}; B tidings_ws_connections=${r.metrics.b.connections} tidings_redis_channels=${r.metrics.b.channels} tidings_notifications_live_total=${r.metrics.b.live}. PUBSUB SHARDNUMSUB of ${subs.length} target channels: ${[...new Set(subs)].join('/')} subscriber(s) each. Out-of-order frames: ${r.phases.reduce((s, p) => s + p.outOfOrder, 0)}; publish errors: ${r.publishErrors}.`,
  )
  return lines.join('\n')
}

export function tracingTable(r: TracingResult): string {
  const lines = [
    `**tracing cost** (Kafka → dispatcher → Redis → gateway → ${r.users} WebSocket clients acking every notification; 1 dispatcher, 1 gateway, exporting OTLP http/protobuf to a local Jaeger; steady: ${r.rate} events/s for ${r.seconds} s, latency = event occurredAt → frame at the client; burst: ${r.burst} events at once; CPU = process user+sys time per notification)`,
    '',
    '| tracing (round) | steady p50 ms | p90 ms | p99 ms | max ms | dispatcher µs CPU/notif. | gateway µs CPU/notif. | burst notifications/s | burst p99 ms | burst dispatcher µs/notif. | burst gateway µs/notif. |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  ]
  for (const m of r.modes) {
    const s = m.steady
    const b = m.burst
    lines.push(
      `| ${m.mode} (${m.round}) | ${s.latencyMs.p50} | ${s.latencyMs.p90} | ${s.latencyMs.p99} | ${s.latencyMs.max} | ${s.cpuMsPerNotification.dispatcher} | ${s.cpuMsPerNotification.gateway} | ${b.perSecond} | ${b.latencyMs.p99} | ${b.cpuMsPerNotification.dispatcher} | ${b.cpuMsPerNotification.gateway} |`,
    )
  }
  return lines.join('\n')
}

export function redisMemoryTable(runs: readonly RedisMemoryRun[]): string {
  const lines = [
    "**Redis memory** (the dispatcher's decode, mapping and store on a private redis-server; `used_memory` deltas less client buffers; one inbox by MEMORY USAGE; KiB = 1024 B)",
    '',
    '| users | notifications | B per inbox entry (meta line + frame) | B per notification in the inboxes | one inbox: entries, KiB | B per dedupe key (stays for the window, read or not) | B per state (1,000 users or more) | B per notification handed to push (PUSH_TOPIC set) |',
    '| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  ]
  for (const r of runs) {
    lines.push(
      `| ${r.users} | ${r.notifications} | ${r.entryBytes} | ${r.inboxBytesPerNotification} | ${r.inboxEntries}, ${(r.inboxBytes / 1024).toFixed(1)} | ${r.dedupeKeyBytes} | ${r.stateBytes ?? '–'} | ${r.pushDoneBytes} |`,
    )
  }
  return lines.join('\n')
}
