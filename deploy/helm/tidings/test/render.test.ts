// `helm lint --strict` and `helm template` of each values file, every rendered object validated
// offline against the Kubernetes schemas, and the invariants an operator relies on at 3 a.m.
import assert from 'node:assert/strict'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, test } from 'node:test'
import { DispatcherEnv, loadDispatcherConfig } from '../../../../services/dispatcher/src/config.ts'
import { GatewayEnv, loadGatewayConfig } from '../../../../services/gateway/src/config.ts'
import { chartDir, find, type K8sObject, lint, render } from './helm.ts'
import { validateObject } from './k8s-schemas.ts'

const VALUES_FILES: Record<string, string[]> = {
  default: [],
  production: ['ci/production-values.yaml'],
  'redis-cluster': ['ci/redis-cluster-values.yaml'],
}
// Every secret-looking value used by the values files above: none may reach a ConfigMap.
const SECRET_VALUES = ['a-development-secret-of-at-least-32-bytes-0123456789', 'cluster-password']
const SECRET_VARIABLES = [
  'JWT_SECRET',
  'JWT_PUBLIC_KEY',
  'REDIS_PASSWORD',
  'KAFKA_SASL_PASSWORD',
  'KAFKA_SASL_USERNAME',
  'SERVICE_TOKENS',
]

// The mounted files (Secret keys, CA bundles) as they would appear in the pod: placeholders in a temp dir.
const mounts = mkdtempSync(join(tmpdir(), 'tidings-chart-mounts-'))
after(() => rmSync(mounts, { recursive: true, force: true }))
function withMountedFiles(env: Record<string, string>): Record<string, string> {
  const out = { ...env }
  for (const [k, v] of Object.entries(env)) {
    if (!k.endsWith('_FILE')) continue
    out[k] = join(mounts, k)
    writeFileSync(out[k], `placeholder for ${v}\n`)
  }
  return out
}

const deployments = (objects: K8sObject[]) => objects.filter((o) => o.kind === 'Deployment')
const container = (d: K8sObject) => d.spec.template.spec.containers[0]
const configMapOf = (objects: K8sObject[], component: string) =>
  find(objects, 'ConfigMap', `-${component}`).data as Record<string, string>

for (const [name, files] of Object.entries(VALUES_FILES)) {
  describe(`values: ${name}`, async () => {
    const objects = await render(files)

    test('helm lint --strict passes', async () => {
      const r = await lint(files)
      assert.ok(r.ok, r.stdout + r.stderr)
    })

    test('every rendered object is valid against the Kubernetes schemas', () => {
      assert.ok(objects.length >= 8, `only ${objects.length} objects`)
      for (const o of objects) validateObject(o)
    })

    test('the ConfigMaps (+ the Secret’s env and files) pass the services’ own config validation, and hold no secret', () => {
      const gw = configMapOf(objects, 'gateway')
      const ds = configMapOf(objects, 'dispatcher')
      // every rule the services apply at start (required pairs, issuer/audience, drain vs grace…)
      // the Secret's env entries the Deployment declares, with placeholder values
      const fromSecret = Object.fromEntries(
        container(find(objects, 'Deployment', '-gateway'))
          .env.filter((e: { valueFrom?: { secretKeyRef?: object } }) => e.valueFrom?.secretKeyRef)
          .map((e: { name: string }) => [e.name, e.name === 'JWT_SECRET' ? 's'.repeat(40) : 't'.repeat(30)]),
      )
      loadGatewayConfig(withMountedFiles({ ...gw, ...fromSecret }))
      loadDispatcherConfig(withMountedFiles(ds))
      for (const cm of objects.filter((o) => o.kind === 'ConfigMap')) {
        for (const variable of SECRET_VARIABLES)
          assert.ok(!(variable in cm.data), `${variable} in ${cm.metadata.name}`)
        const text = JSON.stringify(cm.data)
        for (const secret of SECRET_VALUES)
          assert.ok(!text.includes(secret), `a secret value in ${cm.metadata.name}`)
      }
    })

    test('each ConfigMap holds only settings its service reads (the gateway gets no inbox limits)', () => {
      for (const [component, schema] of [
        ['gateway', GatewayEnv],
        ['dispatcher', DispatcherEnv],
      ] as const) {
        const unread = Object.keys(configMapOf(objects, component)).filter((k) => !(k in schema.properties))
        assert.deepEqual(unread, [], `${component} ConfigMap`)
      }
    })

    test('each service starts with OpenTelemetry imported first; the gateway with its bounded young generation', () => {
      for (const service of ['gateway', 'dispatcher']) {
        const args: string[] = container(find(objects, 'Deployment', `-${service}`)).args
        assert.deepEqual(args.slice(0, 2), [
          '--import',
          `./${service}/node_modules/@tidings/runtime/src/otel.js`,
        ])
        assert.equal(args.at(-1), `${service}/src/main.js`)
        assert.equal(args.includes('--max-semi-space-size=4'), service === 'gateway', service)
      }
    })

    test('probes and metrics are on the admin port, never on the public one', () => {
      const gw = configMapOf(objects, 'gateway')
      for (const d of deployments(objects)) {
        const c = container(d)
        const ports = Object.fromEntries(
          c.ports.map((p: { name: string; containerPort: number }) => [p.name, p.containerPort]),
        )
        for (const probe of ['startupProbe', 'livenessProbe', 'readinessProbe'])
          assert.equal(c[probe].httpGet.port, 'admin', `${d.metadata.name} ${probe}`)
        assert.equal(c.readinessProbe.httpGet.path, '/readyz')
        if (c.name === 'gateway') {
          assert.equal(String(ports.admin), gw.ADMIN_PORT)
          assert.equal(String(ports.http), gw.PORT)
          assert.notEqual(ports.admin, ports.http)
        }
      }
      const publicService = find(objects, 'Service', '-gateway')
      assert.deepEqual(
        publicService.spec.ports.map((p: { targetPort: string }) => p.targetPort),
        ['http'],
      )
    })

    test('preStop + drain + close fit in terminationGracePeriodSeconds (computed, not typed twice)', () => {
      const d = find(objects, 'Deployment', '-gateway')
      const gw = configMapOf(objects, 'gateway')
      const preStop = Number(container(d).lifecycle.preStop.exec.command[1])
      const grace = d.spec.template.spec.terminationGracePeriodSeconds
      const drainMs = Number(gw.DRAIN_MS)
      const shutdownMs = Number(gw.SHUTDOWN_GRACE_MS)
      assert.ok(preStop > 0, 'a preStop that lets endpoints drop the pod first')
      assert.ok(drainMs + 1000 < shutdownMs, 'the gateway’s own rule: SHUTDOWN_GRACE_MS > DRAIN_MS + 1 s')
      assert.ok(
        preStop + shutdownMs / 1000 < grace,
        `${preStop} + ${shutdownMs / 1000} s must be below ${grace} s`,
      )
      const dispatcher = find(objects, 'Deployment', '-dispatcher')
      const ds = configMapOf(objects, 'dispatcher')
      assert.ok(
        Number(ds.SHUTDOWN_GRACE_MS) / 1000 < dispatcher.spec.template.spec.terminationGracePeriodSeconds,
      )
    })

    test('restricted security context: non-root, read-only root, no privilege, drop ALL, seccomp', () => {
      for (const d of deployments(objects)) {
        const pod = d.spec.template.spec
        const c = container(d)
        assert.equal(pod.securityContext.runAsNonRoot, true)
        assert.ok(pod.securityContext.runAsUser > 0)
        assert.equal(pod.securityContext.seccompProfile.type, 'RuntimeDefault')
        assert.equal(c.securityContext.readOnlyRootFilesystem, true)
        assert.equal(c.securityContext.allowPrivilegeEscalation, false)
        assert.deepEqual(c.securityContext.capabilities.drop, ['ALL'])
        assert.equal(pod.automountServiceAccountToken, false)
      }
    })

    test('resources set on every container', () => {
      for (const d of deployments(objects)) {
        const r = container(d).resources
        assert.ok(r.requests.cpu && r.requests.memory && r.limits.memory, d.metadata.name)
      }
    })

    test('PDBs select their Deployment and never block a drain; HPA consistent with the Deployment', () => {
      for (const d of deployments(objects)) {
        const component = d.metadata.labels!['app.kubernetes.io/component']!
        const pdb = find(objects, 'PodDisruptionBudget', `-${component}`)
        assert.deepEqual(pdb.spec.selector, d.spec.selector)
        const hpa = objects.find(
          (o) => o.kind === 'HorizontalPodAutoscaler' && o.spec.scaleTargetRef.name === d.metadata.name,
        )
        if (hpa) assert.equal(d.spec.replicas, undefined, 'the HPA owns replicas')
        const replicas = hpa ? hpa.spec.minReplicas : d.spec.replicas
        if (pdb.spec.minAvailable !== undefined) assert.ok(pdb.spec.minAvailable < replicas)
        else assert.ok(pdb.spec.maxUnavailable >= 1)
      }
      const hpa = objects.find((o) => o.kind === 'HorizontalPodAutoscaler')
      if (name !== 'redis-cluster') assert.ok(hpa, 'an HPA for the gateways')
      if (hpa) {
        assert.equal(hpa.spec.scaleTargetRef.kind, 'Deployment')
        assert.ok(hpa.spec.minReplicas <= hpa.spec.maxReplicas)
        assert.ok(hpa.spec.behavior.scaleDown.stabilizationWindowSeconds >= 300, 'scale-down does not flap')
      }
    })

    test('dispatchers never outnumber partitions; config and secret checksums on both pod templates', () => {
      const d = find(objects, 'Deployment', '-dispatcher')
      assert.ok(d.spec.replicas <= Number(configMapOf(objects, 'dispatcher').TOPIC_PARTITIONS))
      for (const dep of deployments(objects)) {
        const a = dep.spec.template.metadata.annotations
        assert.match(a['checksum/config'], /^[a-f0-9]{64}$/)
        assert.match(a['checksum/secret'], /^[a-f0-9]{64}$/)
      }
    })
  })
}

test('a changed setting or secret rolls the pods (the checksums change)', async () => {
  const checksums = async (set: string[]) => {
    const d = find(await render([], set), 'Deployment', '-gateway')
    return d.spec.template.metadata.annotations
  }
  const base = await checksums([])
  const config = await checksums(['gateway.maxConnections=9000'])
  const secret = await checksums(['secrets.values.jwtSecret="another-secret-of-at-least-32-bytes-000000"'])
  assert.notEqual(config['checksum/config'], base['checksum/config'])
  assert.equal(config['checksum/secret'], base['checksum/secret'])
  assert.notEqual(secret['checksum/secret'], base['checksum/secret'])
})

// Rolling the gateways moves every borrower's socket: a value rolls only the components that read it.
const ROLLS: Array<[string, string[], Array<'gateway' | 'dispatcher'>]> = [
  ['dispatcher.env', ['dispatcher.env={"PARTITIONS_CONSUMED_CONCURRENTLY":8}'], ['dispatcher']],
  [
    'kafka.brokers (the gateway never talks to Kafka)',
    ['kafka.brokers=["k1:9092","k2:9092"]'],
    ['dispatcher'],
  ],
  ['kafka.sasl.mechanism', ['kafka.sasl.mechanism="scram-sha-512"'], ['dispatcher']],
  ['an inbox limit (the writer’s)', ['retention.inboxCap=500'], ['dispatcher']],
  ['a Kafka credential', ['secrets.values.kafkaSaslPassword="another-password"'], ['dispatcher']],
  ['gateway.env', ['gateway.env={"HEARTBEAT_MS":20000}'], ['gateway']],
  ['gateway.maxConnections', ['gateway.maxConnections=9000'], ['gateway']],
  ['the JWT secret', ['secrets.values.jwtSecret="another-secret-of-at-least-32-bytes-000000"'], ['gateway']],
  ['logLevel', ['logLevel="debug"'], ['gateway', 'dispatcher']],
  ['redis.url', ['redis.url="redis://other-redis:6379"'], ['gateway', 'dispatcher']],
  ['retention.stateTtlSeconds', ['retention.stateTtlSeconds=86400'], ['gateway', 'dispatcher']],
  ['the Redis password', ['secrets.values.redisPassword="another-password"'], ['gateway', 'dispatcher']],
]

describe('a change rolls only the components that read it (the rest keep an identical pod template)', async () => {
  const podTemplates = async (set: string[]) => {
    const objects = await render([], set)
    return {
      gateway: find(objects, 'Deployment', '-gateway').spec.template,
      dispatcher: find(objects, 'Deployment', '-dispatcher').spec.template,
    }
  }
  const base = await podTemplates([])
  for (const [value, set, rolled] of ROLLS) {
    test(`${value} rolls ${rolled.join(' and ')}`, async () => {
      const changed = await podTemplates(set)
      for (const component of ['gateway', 'dispatcher'] as const) {
        if (rolled.includes(component)) assert.notDeepEqual(changed[component], base[component], component)
        else assert.deepEqual(changed[component], base[component], component)
      }
    })
  }
})

test('the nginx Ingress carries WebSocket/SSE timeouts of at least an hour', async () => {
  const ingress = find(await render(['ci/production-values.yaml']), 'Ingress', '-gateway')
  const a = ingress.metadata.annotations!
  assert.ok(Number(a['nginx.ingress.kubernetes.io/proxy-read-timeout']) >= 3600)
  assert.ok(Number(a['nginx.ingress.kubernetes.io/proxy-send-timeout']) >= 3600)
  assert.equal(a['nginx.ingress.kubernetes.io/proxy-buffering'], 'off', 'SSE must not be buffered')
})

test('ALB and HAProxy get their own idle/tunnel timeout; an operator annotation wins', async () => {
  const ingress = (controller: string, annotations = {}) =>
    render(
      [],
      [`ingress={"enabled":true,"controller":"${controller}","annotations":${JSON.stringify(annotations)}}`],
    ).then((o) => find(o, 'Ingress', '-gateway').metadata.annotations!)
  assert.equal(
    (await ingress('alb'))['alb.ingress.kubernetes.io/load-balancer-attributes'],
    'idle_timeout.timeout_seconds=3600',
  )
  assert.equal((await ingress('haproxy'))['haproxy.org/timeout-tunnel'], '3600s')
  const own = await ingress('nginx', { 'nginx.ingress.kubernetes.io/proxy-read-timeout': '7200' })
  assert.equal(own['nginx.ingress.kubernetes.io/proxy-read-timeout'], '7200')
})

test('the chart’s retention bounds are the services’ own (one schema, in @tidings/delivery)', () => {
  const schema = JSON.parse(readFileSync(join(chartDir, 'values.schema.json'), 'utf8'))
  const chart = schema.properties.retention.properties as Record<string, { minimum: number; maximum: number }>
  const variables = {
    inboxTtlSeconds: 'INBOX_TTL_SECONDS',
    inboxCap: 'INBOX_CAP',
    dedupeWindowSeconds: 'DEDUPE_WINDOW_SECONDS',
    stateTtlSeconds: 'STATE_TTL_SECONDS',
  } as const
  for (const [value, variable] of Object.entries(variables)) {
    const service = DispatcherEnv.properties[variable]
    assert.deepEqual(
      [chart[value]!.minimum, chart[value]!.maximum],
      [service.minimum, service.maximum],
      value,
    )
  }
  assert.equal(GatewayEnv.properties.STATE_TTL_SECONDS, DispatcherEnv.properties.STATE_TTL_SECONDS)
})

test('redis.timeoutMs reaches both services, with their own bounds and default', async () => {
  const schema = JSON.parse(readFileSync(join(chartDir, 'values.schema.json'), 'utf8'))
  const chart = schema.properties.redis.properties.timeoutMs as { minimum: number; maximum: number }
  for (const env of [GatewayEnv, DispatcherEnv]) {
    const service = env.properties.REDIS_TIMEOUT_MS
    assert.deepEqual([chart.minimum, chart.maximum], [service.minimum, service.maximum])
  }
  const defaults = await render()
  const set = await render([], ['redis.timeoutMs=2500'])
  for (const component of ['gateway', 'dispatcher']) {
    assert.equal(
      configMapOf(defaults, component).REDIS_TIMEOUT_MS,
      String(GatewayEnv.properties.REDIS_TIMEOUT_MS.default),
    )
    assert.equal(configMapOf(set, component).REDIS_TIMEOUT_MS, '2500', component)
  }
})
