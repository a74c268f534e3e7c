// Assembles what the production image runs, for each service: `pnpm deploy --prod` (production
// dependencies only, workspace packages copied in, no tests: each package's `files` leaves them out),
// then every TypeScript file compiled to JavaScript. Compiling is not optional: Node refuses to strip
// types from files under node_modules, which is where `pnpm deploy` puts our workspace packages.
//   node deploy/docker/bundle.ts <out-dir>        → <out-dir>/gateway, <out-dir>/dispatcher
// The Dockerfile runs exactly this; deploy/docker/bundle.test.ts starts the result with plain node.
import { execFile } from 'node:child_process'
import { readdirSync, readFileSync, realpathSync, rmSync, statSync, unlinkSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import ts from 'typescript'

const run = promisify(execFile)
const repoRoot = fileURLToPath(new URL('../../', import.meta.url))
export const SERVICES = ['gateway', 'dispatcher'] as const

const COMPILER: ts.CompilerOptions = {
  module: ts.ModuleKind.ESNext,
  target: ts.ScriptTarget.ES2023,
  verbatimModuleSyntax: true,
  // `./config.ts` → `./config.js` in import specifiers
  rewriteRelativeImportExtensions: true,
}

function walk(dir: string, onFile: (path: string) => void): void {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name)
    if (entry.isDirectory()) {
      if (entry.name !== 'node_modules') walk(path, onFile)
    } else if (entry.isFile()) onFile(path)
  }
}

// Mirrors the `files` exclusions of our package.json files (test code is `src/testing.ts` or under
// `src/testing/`; the gateway's `test-support.ts` until it is renamed): `pnpm deploy` applies them to the service
// itself but copies workspace dependencies whole.
const NOT_SHIPPED = /(\.test\.ts|\/test-support\.ts|\/testing\.ts|\/testing\/.*\.ts|\/tsconfig\.json)$/

/** Compiles a package's .ts files in place and points its package.json at the .js files. */
function compilePackage(dir: string): number {
  let files = 0
  walk(dir, (path) => {
    if (NOT_SHIPPED.test(path)) return unlinkSync(path)
    if (!path.endsWith('.ts') || path.endsWith('.d.ts')) return
    const out = ts.transpileModule(readFileSync(path, 'utf8'), { compilerOptions: COMPILER, fileName: path })
    writeFileSync(path.replace(/\.ts$/, '.js'), out.outputText)
    unlinkSync(path) // only the link: the source file stays
    files += 1
  })
  const manifest = join(dir, 'package.json')
  const pkg = JSON.parse(readFileSync(manifest, 'utf8')) as Record<string, unknown>
  for (const field of ['exports', 'main'] as const) if (pkg[field]) pkg[field] = toJs(pkg[field])
  // pnpm deploy may hard-link files to the workspace's own: writing in place would edit the source
  // package.json. A new file (unlink, then write) leaves the source alone.
  unlinkSync(manifest)
  writeFileSync(manifest, `${JSON.stringify(pkg, null, 2)}\n`)
  return files
}

function toJs(value: unknown): unknown {
  if (typeof value === 'string') return value.replace(/\.ts$/, '.js')
  if (value && typeof value === 'object')
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, toJs(v)]))
  return value
}

/** The service itself plus every @tidings package copied into its node_modules. */
function ourPackages(serviceDir: string): string[] {
  const store = join(serviceDir, 'node_modules', '.pnpm')
  const dirs = [serviceDir]
  for (const entry of readdirSync(store)) {
    if (!entry.startsWith('@tidings+')) continue
    const scope = join(store, entry, 'node_modules', '@tidings')
    for (const name of readdirSync(scope)) {
      const dir = realpathSync(join(scope, name))
      if (statSync(dir).isDirectory() && !dirs.includes(dir)) dirs.push(dir)
    }
  }
  return dirs
}

export async function bundle(outDir: string): Promise<void> {
  const out = resolve(outDir)
  for (const service of SERVICES) {
    const target = join(out, service)
    rmSync(target, { recursive: true, force: true })
    // --legacy: pnpm 10's default deploy wants inject-workspace-packages for the whole workspace,
    // which would also copy (instead of link) our packages during development.
    await run(
      'pnpm',
      ['--filter', `@tidings/${service}`, 'deploy', '--prod', '--legacy', '--prefer-offline', target],
      {
        cwd: repoRoot,
        timeout: 300_000,
      },
    )
    let compiled = 0
    for (const dir of ourPackages(target)) compiled += compilePackage(dir)
    process.stderr.write(`bundle: ${service} → ${target} (${compiled} files compiled)\n`)
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const outDir = process.argv[2]
  if (!outDir) {
    process.stderr.write('usage: node deploy/docker/bundle.ts <out-dir>\n')
    process.exit(2)
  }
  await bundle(outDir)
}
