// docker-compose.yml validated against the Compose Specification's JSON schema (compose-spec.json,
// vendored: see README.md here), plus what the schema cannot know: the services
// run the image's entry points, the gateway and dispatcher settings are ones the services accept.
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { loadConfig } from '@tidings/runtime'
import { Ajv } from 'ajv'
import { parse } from 'yaml'
import { DispatcherEnv } from '../../services/dispatcher/src/config.ts'
import { GatewayEnv } from '../../services/gateway/src/config.ts'

const schema = JSON.parse(readFileSync(new URL('./compose-spec.json', import.meta.url), 'utf8')) as object
const composeFile = fileURLToPath(new URL('../../docker-compose.yml', import.meta.url))
// merge: the file shares the gateway definition with a YAML merge key (<<), as Compose does
const compose = parse(readFileSync(composeFile, 'utf8'), { merge: true }) as {
  services: Record<string, { command?: string[]; environment?: Record<string, string>; image?: string }>
}

function validator() {
  // strict off: the schema uses annotations Ajv does not know (`deprecated`); formats unchecked
  const ajv = new Ajv({ strict: false, allErrors: true, validateFormats: false })
  // it names its meta-schema https://json-schema.org/draft-07/schema (no "#"); Ajv knows it with "#"
  const { $schema: _meta, ...rest } = schema as { $schema?: string }
  return ajv.compile(rest)
}

test('docker-compose.yml is valid against the Compose Specification schema', () => {
  const validate = validator()
  assert.ok(validate(compose), JSON.stringify(validate.errors, null, 2))
})

test('the schema check is real: a misspelt key is refused', () => {
  const validate = validator()
  const broken = structuredClone(compose)
  ;(broken.services.redis as Record<string, unknown>).helthcheck = { test: ['CMD', 'true'] }
  assert.equal(validate(broken), false)
})

test('each Tidings service runs an entry point of the image with settings the service accepts', () => {
  const services = Object.entries(compose.services).filter(([, s]) => s.image?.startsWith('tidings'))
  const entry = (s: { command?: string[] }) => s.command!.at(-1)!
  assert.deepEqual(services.map(([, s]) => entry(s)).sort(), [
    'dispatcher/src/main.js',
    'gateway/src/main.js',
    'gateway/src/main.js',
  ])
  for (const [, s] of services) {
    // OpenTelemetry starts before the service's modules load: the service's own copy of the switch
    const service = entry(s).split('/')[0]
    assert.deepEqual(s.command!.slice(0, 2), [
      '--import',
      `./${service}/node_modules/@tidings/runtime/src/otel.js`,
    ])
    const env = s.environment ?? {}
    if (service === 'gateway') loadConfig(GatewayEnv, env)
    else loadConfig(DispatcherEnv, env)
  }
})
