// Where the harness keeps things between runs. Computed lazily: child processes (watchdog, cli tests)
// inherit TIDINGS_CACHE through their environment.
import { homedir } from 'node:os'
import { join, resolve } from 'node:path'

/** `${TIDINGS_CACHE:-${XDG_CACHE_HOME:-~/.cache}/tidings}` */
export function cacheRoot(): string {
  const explicit = process.env.TIDINGS_CACHE
  if (explicit) return resolve(explicit)
  return join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'tidings')
}

/** One JSON file per process the launcher started (see registry.ts). */
export function registryDir(): string {
  return join(cacheRoot(), 'infra-registry')
}

/** The monorepo root: test/infra/ is two levels below it. */
export const repoRoot = resolve(import.meta.dirname, '..', '..')

/** Written by `cli.ts up`, read by global-setup.ts and `cli.ts run` to reuse persistent infra. */
export const defaultEnvFile = join(repoRoot, '.tidings', 'infra.env')

/**
 * Written by a running `pnpm start` (test/stack.ts) with the Kafka and Redis it uses, removed when it
 * stops: how `pnpm demo:emit` in a second terminal finds a Kafka the stack started itself.
 */
export const stackEnvFile = join(repoRoot, '.tidings', 'stack.env')
