// values.schema.json (and the few cross-field rules the templates enforce with `fail`): one test per
// rule, each proving that helm refuses a bad value with a message naming the value's path.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { render, template } from './helm.ts'
import { validateObject } from './k8s-schemas.ts'

// [rule, --set-json overrides, what helm's message must name]. (helm 3.22's schema library reports a
// bad property *name* under a wrong path, so those rules match the name instead.)
const RULES: Array<[string, string[], RegExp]> = [
  ['no unknown top-level key (a typo)', ['gatway={"replicaCount":3}'], /additional properties 'gatway'/],
  ['image.repository is required', ['image.repository=""'], /\/image\/repository/],
  ['image.digest is sha256:<64 hex>', ['image.digest="latest"'], /\/image\/digest/],
  ['redis: not both url and clusterNodes', ['redis.clusterNodes=["r-0:6379"]'], /\/redis'?: 'oneOf' failed/],
  ['redis: one of url or clusterNodes', ['redis.url=""'], /\/redis'?: 'oneOf' failed/],
  ['redis.url is redis:// or rediss://', ['redis.url="http://redis:6379"'], /\/redis\/url/],
  [
    'redis.clusterNodes are host:port',
    ['redis={"url":"","clusterNodes":["redis-0"]}'],
    /\/redis\/clusterNodes\/0/,
  ],
  ['kafka.brokers is not empty', ['kafka.brokers=[]'], /\/kafka\/brokers/],
  ['kafka.brokers are host:port', ['kafka.brokers=["kafka"]'], /\/kafka\/brokers\/0/],
  ['kafka.sasl.mechanism is a supported one', ['kafka.sasl.mechanism="gssapi"'], /\/kafka\/sasl\/mechanism/],
  ['pods run as non-root', ['podSecurityContext.runAsNonRoot=false'], /\/podSecurityContext\/runAsNonRoot/],
  [
    'seccomp stays RuntimeDefault (or Localhost)',
    ['podSecurityContext.seccompProfile={"type":"Unconfined"}'],
    /\/podSecurityContext\/seccompProfile\/type/,
  ],
  [
    'the root filesystem stays read-only',
    ['containerSecurityContext.readOnlyRootFilesystem=false'],
    /\/containerSecurityContext\/readOnlyRootFilesystem/,
  ],
  [
    'no privilege escalation',
    ['containerSecurityContext.allowPrivilegeEscalation=true'],
    /\/containerSecurityContext\/allowPrivilegeEscalation/,
  ],
  [
    'capabilities.drop includes ALL',
    ['containerSecurityContext.capabilities={"drop":["NET_RAW"]}'],
    /\/containerSecurityContext\/capabilities\/drop/,
  ],
  [
    'no capability is added',
    ['containerSecurityContext.capabilities={"drop":["ALL"],"add":["NET_ADMIN"]}'],
    /\/containerSecurityContext\/capabilities\/add/,
  ],
  [
    'JWT algorithms from the allow-list (never none)',
    ['gateway.auth.algorithms="none"'],
    /\/gateway\/auth\/algorithms/,
  ],
  [
    'a token issuer is required (the gateway refuses to start without one)',
    ['gateway.auth.issuer=""'],
    /\/gateway\/auth\/issuer/,
  ],
  ['a token audience is required', ['gateway.auth.audience=""'], /\/gateway\/auth\/audience/],
  [
    'a JWKS URL is https (http only on localhost)',
    ['gateway.auth.jwksUrl="http://auth.example.com/jwks"'],
    /\/gateway\/auth\/jwksUrl/,
  ],
  [
    'allowed origins are scheme://host[:port]',
    ['gateway.auth.allowedOrigins=["https://app.example.com/path"]'],
    /\/gateway\/auth\/allowedOrigins\/0/,
  ],
  [
    'no secret in gateway.env (it would land in a ConfigMap)',
    ['gateway.env={"JWT_SECRET":"s"}'],
    /gateway\.env\.JWT_SECRET: a secret never goes into a ConfigMap: put it in the Secret \(key jwt-secret\)/,
  ],
  [
    'no chart-computed variable in gateway.env (drain vs grace)',
    ['gateway.env={"DRAIN_MS":"60000"}'],
    /gateway\.env\.DRAIN_MS: set gateway\.shutdown\.drainSeconds instead/,
  ],
  [
    'no secret in dispatcher.env',
    ['dispatcher.env={"KAFKA_SASL_PASSWORD":"s"}'],
    /dispatcher\.env\.KAFKA_SASL_PASSWORD: a secret never goes into a ConfigMap/,
  ],
  [
    'shutdown.closeSeconds ≥ 2 (SHUTDOWN_GRACE_MS > DRAIN_MS + 1 s)',
    ['gateway.shutdown.closeSeconds=1'],
    /\/gateway\/shutdown\/closeSeconds/,
  ],
  [
    'shutdown.preStopSeconds ≤ 120',
    ['gateway.shutdown.preStopSeconds=600'],
    /\/gateway\/shutdown\/preStopSeconds/,
  ],
  ['resources need a memory limit', ['gateway.resources.limits=null'], /\/gateway\/resources/],
  ['at least one gateway', ['gateway.replicaCount=0'], /\/gateway\/replicaCount/],
  [
    'CPU target is a percentage',
    ['gateway.autoscaling.targetCPUUtilizationPercentage=150'],
    /\/gateway\/autoscaling\/targetCPUUtilizationPercentage/,
  ],
  [
    'PDB: not both minAvailable and maxUnavailable',
    ['gateway.podDisruptionBudget.minAvailable=2'],
    /\/gateway\/podDisruptionBudget'?: 'oneOf' failed/,
  ],
  [
    'PDB: one of minAvailable or maxUnavailable',
    ['gateway.podDisruptionBudget.maxUnavailable=""'],
    /\/gateway\/podDisruptionBudget'?: 'oneOf' failed/,
  ],
  [
    'ingress.controller is a known one (it picks the timeouts)',
    ['ingress.controller="envoy"'],
    /\/ingress\/controller/,
  ],
  [
    'ingress.timeoutSeconds ≥ 3600 (the 60 s idle trap)',
    ['ingress.timeoutSeconds=60'],
    /\/ingress\/timeoutSeconds/,
  ],
  ['an enabled HTTPRoute needs parentRefs', ['httpRoute.enabled=true'], /\/httpRoute\/parentRefs/],
  ['retention values are in range', ['retention.inboxCap=0'], /\/retention\/inboxCap/],
  [
    'existingSecret and inline secret values are exclusive',
    ['secrets={"existingSecret":"mine","values":{"jwtSecret":"x"}}'],
    /\/secrets\/values\/jwtSecret/,
  ],
  [
    'redis.auth without existingSecret needs a password',
    ['redis.auth=true'],
    /\/secrets\/values\/redisPassword/,
  ],
  ['logLevel is a pino level', ['logLevel="verbose"'], /\/logLevel/],
  [
    'ServiceMonitor interval is a duration',
    ['metrics.serviceMonitor.interval="often"'],
    /\/metrics\/serviceMonitor\/interval/,
  ],
  ['maxConnections ≥ 1', ['gateway.maxConnections=0'], /\/gateway\/maxConnections/],
  // cross-field rules the schema cannot express: the templates `fail`
  [
    'a variable the chart sets is not repeated in gateway.env (two keys in one ConfigMap)',
    ['gateway.env={"LOG_LEVEL":"debug","JWT_ISSUER":"https://other/"}'],
    /gateway\.env\.JWT_ISSUER: set gateway\.auth\.issuer instead\n\s*gateway\.env\.LOG_LEVEL: set logLevel instead/,
  ],
  [
    'a Redis client certificate needs the Secret that holds it',
    ['redis.tls={"enabled":true,"clientCertificate":true}'],
    /redis\.tls\.clientCertificate needs redis\.tls\.secretName/,
  ],
  [
    'a Kafka client certificate needs the Secret that holds it',
    ['kafka.tls={"enabled":true,"clientCertificate":true}'],
    /kafka\.tls\.clientCertificate needs kafka\.tls\.secretName/,
  ],
  [
    'TLS settings with TLS off are refused, not ignored',
    ['redis.tls={"enabled":false,"clientCertificate":true,"secretName":"redis-tls"}'],
    /redis\.tls\.clientCertificate is set but redis\.tls\.enabled is false/,
  ],
  [
    'dispatchers ≤ partitions',
    ['dispatcher.replicaCount=8'],
    /dispatcher.replicaCount \(8\) must not exceed dispatcher.topicPartitions \(6\)/,
  ],
  [
    'HPA minReplicas ≤ maxReplicas',
    ['gateway.autoscaling.minReplicas=30'],
    /minReplicas must not exceed gateway.autoscaling.maxReplicas/,
  ],
  [
    'a PDB minAvailable below the replica count',
    ['gateway.podDisruptionBudget={"enabled":true,"minAvailable":3,"maxUnavailable":""}'],
    /gateway.podDisruptionBudget.minAvailable \(3\) must be below its replica count \(3\)/,
  ],
]

test('the default values render (the baseline every rule below changes one value of)', async () => {
  const r = await template()
  assert.ok(r.ok, r.stderr)
})

for (const [rule, set, message] of RULES) {
  test(`refused: ${rule}`, async () => {
    const r = await template([], set)
    assert.equal(r.ok, false, `helm accepted ${set.join(' ')}`)
    assert.match(r.stderr, message)
  })
}

test('the offline validator itself rejects a malformed object (it is not a no-op)', () => {
  const broken = {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'x' },
    spec: {
      selector: { matchLabels: { a: 'b' } },
      template: { spec: { containers: [{ name: 'c', image: 'i', ports: [{ containerPort: 'http' }] }] } },
    },
  }
  assert.throws(() => validateObject(broken), /containerPort must be integer/)
  assert.throws(() => validateObject({ ...broken, kind: 'CronTab' }), /no schema for this kind/)
})

// Every option on, so that every variable the templates can produce is rendered at least once.
const EVERY_OPTION: Array<[string[], string[]]> = [
  [
    ['ci/production-values.yaml'],
    [
      'redis.tls={"enabled":true,"secretName":"redis-tls","clientCertificate":true,"serverName":"redis.example"}',
      'kafka.tls={"enabled":true,"secretName":"kafka-tls","clientCertificate":true,"serverName":"kafka.example"}',
      'gateway.auth.algorithms="HS256,RS256"',
      'gateway.auth.jwksUrl=""',
      // only what the chart sets: not this file's own extra variables
      'gateway.env=null',
      'dispatcher.env=null',
    ],
  ],
  [['ci/redis-cluster-values.yaml'], []],
]
// Secrets the services also accept straight from the environment: the chart passes them as files.
const SECRETS_AS_ENV = ['JWT_PUBLIC_KEY', 'REDIS_PASSWORD', 'KAFKA_SASL_USERNAME', 'KAFKA_SASL_PASSWORD']

test('every variable the templates set (and every secret) is refused in gateway.env and dispatcher.env, each named with the value to set instead', async () => {
  const chartSets = new Set(SECRETS_AS_ENV)
  for (const [files, set] of EVERY_OPTION) {
    for (const o of await render(files, set)) {
      if (o.kind === 'ConfigMap' && /-(gateway|dispatcher)$/.test(o.metadata.name))
        for (const name of Object.keys(o.data)) chartSets.add(name)
      if (o.kind === 'Deployment')
        for (const c of o.spec.template.spec.containers)
          for (const e of c.env ?? []) chartSets.add((e as { name: string }).name)
    }
  }
  assert.ok(
    chartSets.has('KAFKA_TLS_KEY_FILE') && chartSets.has('REDIS_CLUSTER_NODES'),
    'every option rendered',
  )
  const expected = [...chartSets].sort()
  for (const component of ['gateway', 'dispatcher']) {
    const env = Object.fromEntries(expected.map((name) => [name, '1']))
    const r = await template([], [`${component}.env=${JSON.stringify(env)}`])
    assert.equal(r.ok, false, `helm accepted ${component}.env with the chart's own variables`)
    const refused = [
      ...r.stderr.matchAll(
        new RegExp(`${component}\\.env\\.([A-Z0-9_]+): (set \\S+|fixed by|a secret)`, 'g'),
      ),
    ]
    assert.deepEqual(refused.map((m) => m[1]).sort(), expected, component)
  }
})

test('a variable the chart does not set passes through env', async () => {
  const r = await template(
    [],
    ['gateway.env={"HEARTBEAT_MS":20000}', 'dispatcher.env={"KAFKA_GROUP_ID":"g"}'],
  )
  assert.ok(r.ok, r.stderr)
})
