// What can be checked of the image without a Docker engine: the Dockerfile's shape (multi-stage,
// pinned base, non-root, tini, nothing but the bundle in the runtime stage), that it copies the
// manifest of every workspace package (or its frozen install breaks), and the .dockerignore.
import assert from 'node:assert/strict'
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { parse } from 'yaml'

const root = fileURLToPath(new URL('../../', import.meta.url))
const dockerfile = readFileSync(join(root, 'deploy/docker/Dockerfile'), 'utf8')
const lines = dockerfile.split('\n').filter((l) => l.trim() && !l.trim().startsWith('#'))
const stages = dockerfile.split(/^FROM /m).slice(1)
const runtime = stages.at(-1)!

test('multi-stage, both stages on the same Node 24 slim base pinned by version and digest', () => {
  assert.equal(stages.length, 2)
  const base = /^ARG NODE_IMAGE=(\S+)$/m.exec(dockerfile)?.[1]
  assert.match(base ?? '', /^node:24\.\d+\.\d+-[a-z]+-slim@sha256:[a-f0-9]{64}$/)
  // both FROM lines name the ARG, so the two stages cannot drift apart
  for (const stage of stages) assert.match(stage, /^\$\{NODE_IMAGE\} AS /)
})

test('the runtime stage: only the bundle, a non-root user, tini as PID 1, production mode', () => {
  const copies = runtime.split('\n').filter((l) => l.startsWith('COPY'))
  assert.deepEqual(copies, ['COPY --from=build --chown=root:root /out/ /app/'])
  assert.match(runtime, /^USER 1000:1000$/m)
  assert.match(runtime, /^ENV NODE_ENV=production$/m)
  assert.match(runtime, /^ENTRYPOINT \["\/usr\/bin\/tini", "--", "node"/m)
  assert.doesNotMatch(runtime, /pnpm|npm install/, 'no package manager in the runtime stage')
  assert.ok(
    lines.some((l) => l.includes('node deploy/docker/bundle.ts /out')),
    'the build stage runs the bundle',
  )
})

test('the build stage copies the manifest of every workspace package before installing', () => {
  const workspace = parse(readFileSync(join(root, 'pnpm-workspace.yaml'), 'utf8')) as { packages: string[] }
  const manifests = workspace.packages.flatMap((glob) => {
    if (!glob.endsWith('/*')) return [`${glob}/package.json`]
    const dir = glob.slice(0, -2)
    return readdirSync(join(root, dir))
      .filter((d) => existsSync(join(root, dir, d, 'package.json')))
      .map((d) => `${dir}/${d}/package.json`)
  })
  for (const m of manifests) assert.ok(dockerfile.includes(`COPY ${m} `), `Dockerfile misses COPY ${m}`)
})

test('.dockerignore keeps local installs, VCS data and logs out of the build context', () => {
  const ignored = readFileSync(join(root, '.dockerignore'), 'utf8').split('\n')
  for (const entry of ['**/node_modules', '.git', '.tidings', '**/*.log'])
    assert.ok(ignored.includes(entry), entry)
})
