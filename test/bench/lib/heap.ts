// Reads a V8 .heapsnapshot: object counts and shallow sizes per constructor (to diff before/after
// opening N sockets), and who holds instances of a few classes (retaining edges).

interface RawSnapshot {
  snapshot: {
    meta: {
      node_fields: string[]
      node_types: [string[], ...unknown[]]
      edge_fields: string[]
      edge_types: [string[], ...unknown[]]
    }
  }
  nodes: number[]
  edges: number[]
  strings: string[]
}

export interface ClassStat {
  count: number
  bytes: number
}

export interface HeapSummary {
  /** Keyed `Constructor` for objects, `(closure) name`, `(string)`, `(array) name`, `(code)`… */
  classes: Map<string, ClassStat>
  /** For each class asked for: `Retainer.edge` → number of instances held that way. */
  retainers: Map<string, Map<string, number>>
  totalBytes: number
}

function keyOf(type: string, name: string): string {
  switch (type) {
    case 'object':
      return name
    case 'closure':
      return `(closure) ${name || 'anonymous'}`
    case 'string':
    case 'concatenated string':
    case 'sliced string':
      return '(string)'
    case 'array':
    case 'hidden':
    case 'native':
      return `(${type}) ${name}`
    default:
      return `(${type})`
  }
}

export function summarizeHeap(text: string, retainersOf: readonly string[] = []): HeapSummary {
  const snap = JSON.parse(text) as RawSnapshot
  const { meta } = snap.snapshot
  const nf = meta.node_fields.length
  const ef = meta.edge_fields.length
  const nType = meta.node_fields.indexOf('type')
  const nName = meta.node_fields.indexOf('name')
  const nSize = meta.node_fields.indexOf('self_size')
  const nEdges = meta.node_fields.indexOf('edge_count')
  const eType = meta.edge_fields.indexOf('type')
  const eName = meta.edge_fields.indexOf('name_or_index')
  const eTo = meta.edge_fields.indexOf('to_node')
  const nodeTypes = meta.node_types[0]
  const edgeTypes = meta.edge_types[0]
  const { nodes, edges, strings } = snap
  const nodeCount = nodes.length / nf

  const keys: string[] = new Array(nodeCount)
  const classes = new Map<string, ClassStat>()
  let totalBytes = 0
  for (let i = 0; i < nodeCount; i++) {
    const o = i * nf
    const type = nodeTypes[nodes[o + nType]!]!
    if (type === 'synthetic') {
      keys[i] = '(synthetic)'
      continue
    }
    const key = keyOf(type, strings[nodes[o + nName]!]!)
    keys[i] = key
    const size = nodes[o + nSize]!
    totalBytes += size
    const c = classes.get(key)
    if (c) {
      c.count++
      c.bytes += size
    } else classes.set(key, { count: 1, bytes: size })
  }

  const wanted = new Set(retainersOf)
  const retainers = new Map<string, Map<string, number>>()
  if (wanted.size > 0) {
    let e = 0
    for (let i = 0; i < nodeCount; i++) {
      const count = nodes[i * nf + nEdges]!
      for (let k = 0; k < count; k++, e += ef) {
        const to = edges[e + eTo]! / nf
        const target = keys[to]!
        if (!wanted.has(target)) continue
        const type = edgeTypes[edges[e + eType]!]!
        if (type === 'weak' || keys[i] === '(synthetic)') continue
        const raw = edges[e + eName]!
        const name = type === 'element' || type === 'hidden' ? `[${raw}]` : strings[raw]!
        let m = retainers.get(target)
        if (!m) {
          m = new Map()
          retainers.set(target, m)
        }
        const how = `${keys[i]} .${name}`
        m.set(how, (m.get(how) ?? 0) + 1)
      }
    }
  }
  return { classes, retainers, totalBytes }
}

export interface ClassDelta {
  key: string
  /** Per socket. */
  count: number
  /** Shallow bytes per socket. */
  bytes: number
}

/** What grew between two snapshots, per socket, largest first. */
export function diffHeaps(before: HeapSummary, after: HeapSummary, sockets: number, top = 30): ClassDelta[] {
  const out: ClassDelta[] = []
  for (const [key, a] of after.classes) {
    const b = before.classes.get(key) ?? { count: 0, bytes: 0 }
    const dBytes = a.bytes - b.bytes
    const dCount = a.count - b.count
    if (dBytes <= 0 && dCount <= 0) continue
    out.push({ key, count: +(dCount / sockets).toFixed(2), bytes: Math.round(dBytes / sockets) })
  }
  return out.sort((x, y) => y.bytes - x.bytes).slice(0, top)
}

/** The `top` ways instances of each class are held, as `[how, count]`. */
export function topRetainers(summary: HeapSummary, top = 6): Record<string, Array<[string, number]>> {
  const out: Record<string, Array<[string, number]>> = {}
  for (const [cls, m] of summary.retainers) {
    out[cls] = [...m.entries()].sort((a, b) => b[1] - a[1]).slice(0, top)
  }
  return out
}
