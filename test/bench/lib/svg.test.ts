// Smoke test of the bench's SVG renderer (run by `pnpm test`): well-formed, one mark per point or bar,
// text escaped, non-finite values never reaching the output.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { escapeXml, niceTicks, renderBarChart, renderLineChart, wrapLabel } from './svg.ts'

function assertWellFormed(svg: string) {
  assert.match(svg, /^<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/)
  assert.match(svg.trimEnd(), /<\/svg>$/)
  assert.doesNotMatch(svg, /NaN|Infinity|undefined/)
  // every opened element is closed (self-closing or with its end tag)
  const opened = [...svg.matchAll(/<([a-z]+)[^>]*?(\/?)>/g)]
    .filter(([, , self]) => self !== '/')
    .map(([, n]) => n)
  const closed = [...svg.matchAll(/<\/([a-z]+)>/g)].map(([, n]) => n)
  assert.deepEqual(opened.sort(), closed.sort())
}

test('line chart: one circle per finite point, a gap for NaN, log axis in decades', () => {
  const svg = renderLineChart({
    title: 'p99 <latency> & rate',
    xLabel: 'notifications/s',
    yLabel: 'ms',
    logY: true,
    series: [
      {
        name: 'Tidings',
        points: [
          [2000, 4],
          [5000, 12],
          [10000, Number.NaN],
        ],
      },
      {
        name: 'Socket.IO',
        points: [
          [2000, 40],
          [5000, 900],
        ],
      },
    ],
  })
  assertWellFormed(svg)
  assert.equal(svg.match(/<circle /g)?.length, 4)
  assert.equal(svg.match(/<path /g)?.length, 2)
  assert.ok(svg.includes('<title>p99 &#60;latency&#62; &#38; rate</title>'))
  for (const decade of ['>1<', '>10<', '>100<', '>1000<']) assert.ok(svg.includes(decade), decade)
})

test('bar chart: one rect per value, stacked totals labelled', () => {
  const svg = renderBarChart({
    title: 'CPU per notification',
    yLabel: 'µs',
    categories: ['Tidings', 'Socket.IO', 'Centrifugo'],
    series: [
      { name: 'servers', values: [100, 150, 200] },
      { name: 'Redis', values: [30, 40, Number.NaN] },
    ],
    stacked: true,
  })
  assertWellFormed(svg)
  // background + 2 legend swatches + 6 bars
  assert.equal(svg.match(/<rect /g)?.length, 1 + 2 + 6)
  for (const total of ['>130<', '>190<', '>200<']) assert.ok(svg.includes(total), total)
})

test('empty charts still render', () => {
  assertWellFormed(renderLineChart({ title: 't', xLabel: 'x', yLabel: 'y', series: [] }))
  assertWellFormed(renderBarChart({ title: 't', yLabel: 'y', categories: [], series: [] }))
})

test('helpers', () => {
  assert.deepEqual(niceTicks(0, 9.5), [0, 2, 4, 6, 8, 10])
  assert.equal(escapeXml(`a<b>"c"&'d'`), 'a&#60;b&#62;&#34;c&#34;&#38;&#39;d&#39;')
})

test('wrapLabel: whole " + " parts while they fit, then words; a label that fits stays one line', () => {
  assert.deepEqual(wrapLabel('Tidings', 100), ['Tidings'])
  assert.deepEqual(wrapLabel('Socket.IO 4 + sharded redis-adapter', 190), [
    'Socket.IO 4',
    '+ sharded redis-adapter',
  ])
  assert.deepEqual(wrapLabel('Socket.IO 4 + sharded redis-adapter', 119), [
    'Socket.IO 4',
    '+ sharded',
    'redis-adapter',
  ])
  assert.deepEqual(wrapLabel('Socket.IO 4 + redis-adapter', 119), ['Socket.IO 4', '+ redis-adapter'])
  // every word kept, in order; each line within the width unless one word alone is wider
  const label = 'a very long label + with parts + and more words than fit'
  const lines = wrapLabel(label, 60)
  assert.equal(lines.join(' '), label)
  assert.ok(lines.length > 3)
  for (const l of lines) assert.ok(l.length * 6.8 <= 60 || !l.includes(' '), l)
})

test('long names: legend entries and bar labels wrap onto lines (tspans) instead of running off', () => {
  const name = 'Socket.IO 4 + sharded redis-adapter'
  const svg = renderBarChart({
    title: 't',
    yLabel: 'µs',
    categories: ['Tidings', 'Socket.IO 4 + redis-adapter', name, 'Centrifugo v6.9.1'],
    series: [
      { name: 'servers', values: [1, 2, 3, 4] },
      { name, values: [1, 1, 1, 1] },
    ],
    stacked: true,
  })
  assertWellFormed(svg)
  assert.ok(svg.includes('>+ sharded</tspan>'))
  assert.ok(svg.includes('>+ sharded redis-adapter</tspan>'))
})
