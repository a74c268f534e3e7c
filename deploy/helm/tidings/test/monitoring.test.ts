// The chart's PrometheusRule and Grafana dashboard are the files the rest of the repository tests
// (promtool in test/e2e/observability.test.ts, the dashboard's metrics against a live stack): the
// chart's copies in files/ must stay identical, and what renders must be exactly them.
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'
import { parse } from 'yaml'
import { chartDir, type K8sObject, render } from './helm.ts'

const deployDir = join(chartDir, '..', '..')
const pairs = [
  ['files/tidings-rules.yaml', 'prometheus/tidings-rules.yaml'],
  ['files/tidings-dashboard.json', 'grafana/tidings-dashboard.json'],
] as const

test('the chart’s copies of the alert rules and the dashboard are identical to deploy/prometheus and deploy/grafana', () => {
  for (const [copy, original] of pairs) {
    assert.equal(
      readFileSync(join(chartDir, copy), 'utf8'),
      readFileSync(join(deployDir, original), 'utf8'),
      `${copy} differs from deploy/${original}: copy it again`,
    )
  }
})

test('enabled, they render as a PrometheusRule with those rules and a sidecar-labelled dashboard ConfigMap', async () => {
  const objects = await render(['ci/production-values.yaml'])
  const rule = objects.find((o: K8sObject) => o.kind === 'PrometheusRule')
  assert.ok(rule, 'a PrometheusRule')
  assert.equal(rule.metadata.labels?.release, 'kube-prometheus-stack')
  assert.deepEqual(rule.spec, parse(readFileSync(join(deployDir, 'prometheus/tidings-rules.yaml'), 'utf8')))
  const dashboard = objects.find(
    (o: K8sObject) => o.kind === 'ConfigMap' && o.metadata.name.endsWith('-dashboard'),
  )
  assert.ok(dashboard, 'a dashboard ConfigMap')
  assert.equal(dashboard.metadata.labels?.grafana_dashboard, '1')
  assert.deepEqual(
    JSON.parse((dashboard.data as Record<string, string>)['tidings-dashboard.json'] ?? ''),
    JSON.parse(readFileSync(join(deployDir, 'grafana/tidings-dashboard.json'), 'utf8')),
  )
})

test('off by default', async () => {
  const objects = await render([])
  assert.equal(
    objects.filter((o) => o.kind === 'PrometheusRule' || o.metadata.name.endsWith('-dashboard')).length,
    0,
  )
})
