// A small SVG chart renderer for the bench's plots (line charts and grouped/stacked bar charts).
// Hand-written rather than vega/vega-lite: those pull ~100 packages (d3, canvas fallbacks) into the test
// package for four charts of a few dozen points, and their output changes with their versions; this is
// plain string building, deterministic, and smoke-tested by svg.test.ts.

export interface Series {
  name: string
  /** [x, y] points; y NaN/Infinity = no point (the line is broken there). */
  points: Array<[number, number]>
}

export interface LineChart {
  title: string
  xLabel: string
  yLabel: string
  series: Series[]
  /** Logarithmic y axis (latencies spanning ms to seconds). */
  logY?: boolean
}

export interface BarChart {
  title: string
  yLabel: string
  /** One group of bars per category (e.g. a system). */
  categories: string[]
  /** One bar (or one stacked segment with `stacked`) per series in each category. */
  series: Array<{ name: string; values: number[] }>
  stacked?: boolean
}

const W = 800
const H = 400
const M = { top: 40, right: 230, bottom: 50, left: 70 }
const PW = W - M.left - M.right
const PH = H - M.top - M.bottom
// Okabe–Ito: distinguishable with the common colour-vision deficiencies
export const PALETTE = [
  '#0072B2',
  '#E69F00',
  '#009E73',
  '#CC79A7',
  '#56B4E9',
  '#D55E00',
  '#F0E442',
  '#000000',
]

export function escapeXml(s: string): string {
  return s.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`)
}

/** 1, 2, 5 × 10^k steps: about `count` round ticks covering [min, max]. */
export function niceTicks(min: number, max: number, count = 5): number[] {
  if (!(max > min)) return [min]
  const raw = (max - min) / count
  const mag = 10 ** Math.floor(Math.log10(raw))
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag
  const out: number[] = []
  // up to the first tick at or above max, so that the top tick covers every value
  for (let v = Math.floor(min / step) * step; out.length < 50; v += step) {
    out.push(+v.toPrecision(12))
    if (v >= max - step * 1e-9) break
  }
  return out
}

// Average advance of a 12 px sans-serif character: enough to tell whether a label fits (no font metrics).
const CHAR_PX = 6.8

/**
 * A label as lines of at most `maxPx` (estimated): broken before " + " first ("Socket.IO 4 + sharded
 * redis-adapter"), then at spaces; a single word longer than that stays whole.
 */
export function wrapLabel(label: string, maxPx: number): string[] {
  const fits = (t: string) => t.length * CHAR_PX <= maxPx
  const lines: string[] = []
  const add = (piece: string, newLine: boolean) => {
    const last = lines.at(-1)
    if (!newLine && last !== undefined && fits(`${last} ${piece}`))
      lines[lines.length - 1] = `${last} ${piece}`
    else lines.push(piece)
  }
  // whole " + " parts while they fit; a part too wide for a line of its own starts one, word by word
  for (const [i, part] of label.split(' + ').entries()) {
    const p = i === 0 ? part : `+ ${part}`
    if (fits(p)) add(p, false)
    else for (const [k, word] of p.split(' ').filter(Boolean).entries()) add(word, k === 0)
  }
  return lines
}

/** `<text>` of several lines, the first at `y`, the others below it. */
function multiline(x: number, y: number, lines: string[], attrs = ''): string {
  const spans = lines
    .map((l, i) => `<tspan x="${x.toFixed(1)}" dy="${i === 0 ? 0 : '1.15em'}">${escapeXml(l)}</tspan>`)
    .join('')
  return `<text x="${x.toFixed(1)}" y="${y.toFixed(1)}"${attrs}>${spans}</text>`
}

const fmt = (v: number) => (Math.abs(v) >= 10_000 ? `${+(v / 1000).toPrecision(3)}k` : `${+v.toPrecision(4)}`)

function frame(title: string, body: string[], legend: string[]): string {
  let top = M.top
  const items = legend.map((name, i) => {
    const lines = wrapLabel(name, M.right - 40)
    const item =
      `<rect x="${W - M.right + 16}" y="${top}" width="12" height="12" fill="${PALETTE[i % PALETTE.length]}"/>` +
      multiline(W - M.right + 34, top + 10, lines)
    top += 6 + 14 * lines.length
    return item
  })
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12" role="img">`,
    // the accessible name of the image (screen readers; biome's noSvgWithoutTitle)
    `<title>${escapeXml(title)}</title>`,
    `<rect width="${W}" height="${H}" fill="#fff"/>`,
    `<text x="${W / 2}" y="22" text-anchor="middle" font-size="15" font-weight="bold">${escapeXml(title)}</text>`,
    ...body,
    ...items,
    '</svg>',
    '',
  ].join('\n')
}

function yAxis(ticks: number[], y: (v: number) => number, label: string): string[] {
  return [
    ...ticks.map(
      (t) =>
        `<line x1="${M.left}" x2="${M.left + PW}" y1="${y(t).toFixed(1)}" y2="${y(t).toFixed(1)}" stroke="#ddd"/>` +
        `<text x="${M.left - 6}" y="${(y(t) + 4).toFixed(1)}" text-anchor="end">${fmt(t)}</text>`,
    ),
    `<text transform="translate(16 ${M.top + PH / 2}) rotate(-90)" text-anchor="middle">${escapeXml(label)}</text>`,
    `<line x1="${M.left}" x2="${M.left}" y1="${M.top}" y2="${M.top + PH}" stroke="#333"/>`,
    `<line x1="${M.left}" x2="${M.left + PW}" y1="${M.top + PH}" y2="${M.top + PH}" stroke="#333"/>`,
  ]
}

export function renderLineChart(c: LineChart): string {
  const pts = c.series.flatMap((s) => s.points).filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y))
  const usable = c.logY ? pts.filter(([, y]) => y > 0) : pts
  const xs = usable.map(([x]) => x)
  const ys = usable.map(([, y]) => y)
  const xMin = xs.length ? Math.min(...xs) : 0
  const xMax = xs.length ? Math.max(...xs) : 1
  const x = (v: number) => M.left + (xMax === xMin ? PW / 2 : ((v - xMin) / (xMax - xMin)) * PW)
  let y: (v: number) => number
  let ticks: number[]
  if (c.logY) {
    const lo = Math.floor(Math.log10(ys.length ? Math.min(...ys) : 1))
    const hi = Math.max(lo + 1, Math.ceil(Math.log10(ys.length ? Math.max(...ys) : 10)))
    ticks = Array.from({ length: hi - lo + 1 }, (_, i) => 10 ** (lo + i))
    y = (v) => M.top + PH - ((Math.log10(v) - lo) / (hi - lo)) * PH
  } else {
    const yMax = ys.length ? Math.max(...ys) : 1
    ticks = niceTicks(0, yMax > 0 ? yMax : 1)
    const top = ticks[ticks.length - 1]! || 1
    y = (v) => M.top + PH - (v / top) * PH
  }
  const body = yAxis(ticks, y, c.yLabel)
  for (const t of niceTicks(xMin, xMax, 6).filter((t) => t >= xMin && t <= xMax)) {
    body.push(`<text x="${x(t).toFixed(1)}" y="${M.top + PH + 16}" text-anchor="middle">${fmt(t)}</text>`)
  }
  body.push(`<text x="${M.left + PW / 2}" y="${H - 10}" text-anchor="middle">${escapeXml(c.xLabel)}</text>`)
  c.series.forEach((s, i) => {
    const color = PALETTE[i % PALETTE.length]
    const ok = ([px, py]: [number, number]) =>
      Number.isFinite(px) && Number.isFinite(py) && (!c.logY || py > 0)
    // a non-finite point breaks the line: "M" restarts the path after a gap
    let d = ''
    let pen = false
    for (const p of s.points) {
      if (!ok(p)) {
        pen = false
        continue
      }
      d += `${pen ? 'L' : 'M'}${x(p[0]).toFixed(1)},${y(p[1]).toFixed(1)}`
      pen = true
    }
    if (d) body.push(`<path d="${d}" fill="none" stroke="${color}" stroke-width="2"/>`)
    for (const p of s.points.filter(ok)) {
      body.push(`<circle cx="${x(p[0]).toFixed(1)}" cy="${y(p[1]).toFixed(1)}" r="3" fill="${color}"/>`)
    }
  })
  return frame(
    c.title,
    body,
    c.series.map((s) => s.name),
  )
}

export function renderBarChart(c: BarChart): string {
  const val = (v: number) => (Number.isFinite(v) && v > 0 ? v : 0)
  const totals = c.categories.map((_, ci) =>
    c.stacked
      ? c.series.reduce((s, se) => s + val(se.values[ci] ?? 0), 0)
      : Math.max(0, ...c.series.map((se) => val(se.values[ci] ?? 0))),
  )
  const ticks = niceTicks(0, Math.max(1e-9, ...totals))
  const top = ticks[ticks.length - 1]! || 1
  const y = (v: number) => M.top + PH - (v / top) * PH
  const body = yAxis(ticks, y, c.yLabel)
  const groupW = PW / Math.max(1, c.categories.length)
  const barW = c.stacked ? groupW * 0.5 : (groupW * 0.7) / Math.max(1, c.series.length)
  c.categories.forEach((cat, ci) => {
    const g0 = M.left + ci * groupW
    body.push(
      multiline(g0 + groupW / 2, M.top + PH + 16, wrapLabel(cat, groupW - 6), ' text-anchor="middle"'),
    )
    let base = 0
    c.series.forEach((se, si) => {
      const v = val(se.values[ci] ?? 0)
      const color = PALETTE[si % PALETTE.length]
      const bx = c.stacked ? g0 + groupW * 0.25 : g0 + groupW * 0.15 + si * barW
      const y0 = c.stacked ? base : 0
      const rectY = y(y0 + v)
      const h = y(y0) - rectY
      body.push(
        `<rect x="${bx.toFixed(1)}" y="${rectY.toFixed(1)}" width="${(barW - 2).toFixed(1)}" height="${h.toFixed(1)}" fill="${color}"><title>${escapeXml(`${cat} – ${se.name}: ${fmt(v)}`)}</title></rect>`,
      )
      if (!c.stacked && v > 0) {
        body.push(
          `<text x="${(bx + barW / 2).toFixed(1)}" y="${(rectY - 4).toFixed(1)}" text-anchor="middle" font-size="10">${fmt(v)}</text>`,
        )
      }
      base += v
    })
    if (c.stacked) {
      body.push(
        `<text x="${(g0 + groupW / 2).toFixed(1)}" y="${(y(base) - 4).toFixed(1)}" text-anchor="middle" font-size="11">${fmt(base)}</text>`,
      )
    }
  })
  return frame(
    c.title,
    body,
    c.series.map((s) => s.name),
  )
}
