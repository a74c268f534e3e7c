// Small numeric helpers and the row type every bench reports.

export interface Row {
  bench: string
  metric: string
  value: number | string
  unit?: string
  note?: string
}

/** Nearest-rank percentile of an ascending array (p in 0..1). */
export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))]!
}

export interface Percentiles {
  count: number
  p50: number
  p90: number
  p99: number
  max: number
}

export function percentiles(xs: number[]): Percentiles {
  const s = Float64Array.from(xs).sort()
  const a = Array.from(s)
  const r = (v: number) => +v.toFixed(2)
  return {
    count: a.length,
    p50: r(percentile(a, 0.5)),
    p90: r(percentile(a, 0.9)),
    p99: r(percentile(a, 0.99)),
    max: r(a[a.length - 1] ?? Number.NaN),
  }
}

export const round = (v: number, digits = 1): number => +v.toFixed(digits)
