// scripts/go-tool on a machine where nothing is cached yet: every tool is built once, the script exits
// 0 (bootstrap runs it under `set -e`), and no temp dir is left behind. `go` is a stub on PATH that
// writes a binary where `go install`/`go build` would: the real build takes minutes and the module
// proxy is not what is tested here.
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { chmodSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { promisify } from 'node:util'

const exec = promisify(execFile)
const goTool = join(import.meta.dirname, '..', '..', 'scripts', 'go-tool')

const STUB_GO = `#!/usr/bin/env bash
case "$1" in
  install) n=$(basename "\${2%@*}"); printf '#!/bin/sh\\necho stub\\n' > "$GOBIN/$n"; chmod +x "$GOBIN/$n" ;;
  build) while [ "$1" != -o ]; do shift; done; printf '#!/bin/sh\\necho stub\\n' > "$2"; chmod +x "$2" ;;
  *) exit 0 ;;
esac
`

test('go-tool ensure-test builds every test tool into an empty cache, exits 0 and leaves no temp dir', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tidings-go-tool-test-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  const cache = join(dir, 'cache')
  writeFileSync(join(dir, 'go'), STUB_GO)
  chmodSync(join(dir, 'go'), 0o755)
  const env = { ...process.env, PATH: `${dir}:${process.env.PATH}`, TIDINGS_CACHE: cache }

  const { stderr } = await exec(goTool, ['ensure-test'], { env }) // rejects on a non-zero exit
  assert.doesNotMatch(stderr, /unbound variable/)
  const built = readdirSync(join(cache, 'go-bin'))
  assert.deepEqual(
    built.map((f) => f.replace(/-v[\d.]+$/, '')),
    ['helm', 'jaeger', 'promtool'],
    `only the binaries are left: ${built.join(', ')}`,
  )
  // cached: the second run builds nothing
  const again = await exec(goTool, ['path', 'helm'], { env })
  assert.equal(again.stderr, '')
  assert.match(again.stdout, /go-bin\/helm-v[\d.]+\n$/)
})
