// Prints the environment variables of a service as a Markdown table, from its config schema:
//   node scripts/env-table.ts gateway|dispatcher
// The README's tables are pasted from this, so they say what the code validates.
import type { TObject, TSchema } from '@sinclair/typebox'

const which = process.argv[2]
const mod =
  which === 'gateway'
    ? ((await import('../services/gateway/src/config.ts')) as { GatewayEnv: TObject }).GatewayEnv
    : which === 'dispatcher'
      ? ((await import('../services/dispatcher/src/config.ts')) as { DispatcherEnv: TObject }).DispatcherEnv
      : null
if (!mod) {
  process.stderr.write('usage: node scripts/env-table.ts gateway|dispatcher\n')
  process.exit(2)
}
const required = new Set(mod.required ?? [])
const cell = (s: unknown) => String(s).replaceAll('|', '\\|')
const rows = Object.entries(mod.properties as Record<string, TSchema>).map(([name, s]) => {
  const def = s.default !== undefined ? `\`${s.default}\`` : required.has(name) ? '**required**' : '—'
  const range = s.minimum !== undefined && s.maximum !== undefined ? ` (${s.minimum}–${s.maximum})` : ''
  const values = s.anyOf
    ? ` (${s.anyOf
        .map((x: TSchema) => x.const)
        .filter(Boolean)
        .join(', ')})`
    : ''
  return `| \`${name}\` | ${def} | ${cell((s.description ?? '') + range + values)} |`
})
process.stdout.write(`| variable | default | meaning |\n|---|---|---|\n${rows.join('\n')}\n`)
