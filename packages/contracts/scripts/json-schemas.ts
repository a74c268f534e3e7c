// Writes docs/schemas/*.json from the TypeBox schemas: `pnpm --filter @tidings/contracts schemas`.
import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { renderJsonSchemas } from '../src/json-schemas.ts'

const dir = new URL('../../../docs/schemas/', import.meta.url)
mkdirSync(dir, { recursive: true })
const files = renderJsonSchemas()
// a schema that was removed must not linger as a stale file
for (const name of readdirSync(dir))
  if (name.endsWith('.json') && !files.has(name)) rmSync(new URL(name, dir))
for (const [name, text] of files) writeFileSync(new URL(name, dir), text)
console.log(`wrote ${files.size} files to docs/schemas/`)
