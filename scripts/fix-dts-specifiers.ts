// Rewrites relative `.ts` specifiers to `.js` in the declaration files tsc emitted into a package's dist/:
//   node ../../scripts/fix-dts-specifiers.ts dist
// tsc rewrites them in the emitted JavaScript (rewriteRelativeImportExtensions) but not in .d.ts files
// (microsoft/TypeScript#61037, open), and a published `.d.ts` pointing at `./client.ts` — a file the
// package does not ship — breaks editors and some consumers' type resolution. Hand-written because no
// maintained tool does only this (tsc-alias rewrites path aliases, a different job); it fails the build
// if any `.ts` specifier is left, so a pattern this misses cannot ship.
import { readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'

const dir = process.argv[2]
if (!dir) throw new Error('usage: node scripts/fix-dts-specifiers.ts <dist directory>')

// from './x.ts' · import('./x.ts') · import './x.ts' · export * from "../y.ts"
const SPECIFIER = /(\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)(['"])(\.{1,2}\/[^'"]*?)\.ts\2/g
const LEFT = /(['"])\.{1,2}\/[^'"]*\.ts\1/

let files = 0
for (const entry of readdirSync(dir, { recursive: true, withFileTypes: true })) {
  if (!entry.isFile() || !entry.name.endsWith('.d.ts')) continue
  const path = join(entry.parentPath, entry.name)
  const text = readFileSync(path, 'utf8')
  const fixed = text.replace(SPECIFIER, (_m, lead: string, q: string, spec: string) => `${lead}${q}${spec}.js${q}`)
  const left = LEFT.exec(fixed)
  if (left) throw new Error(`${path}: a relative .ts specifier is left: ${left[0]}`)
  if (fixed !== text) writeFileSync(path, fixed)
  files++
}
if (files === 0) throw new Error(`no .d.ts files under ${dir}: run tsc first`)
