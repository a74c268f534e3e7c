// Runs the real helm (built from the Go module proxy by scripts/go-tool, cached) on this chart.
import { execFile } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { parseAllDocuments } from 'yaml'

const run = promisify(execFile)
export const chartDir = fileURLToPath(new URL('../', import.meta.url))
const goTool = fileURLToPath(new URL('../../../../scripts/go-tool', import.meta.url))
// The oldest Kubernetes the chart supports is what `helm template` is told the cluster runs.
export const KUBE_VERSION = '1.31.0'

let helmPath: Promise<string> | undefined
export function helm(): Promise<string> {
  helmPath ??= run(goTool, ['path', 'helm'], { timeout: 600_000 }).then((r) => r.stdout.trim())
  return helmPath
}

export interface K8sObject {
  apiVersion: string
  kind: string
  metadata: { name: string; labels?: Record<string, string>; annotations?: Record<string, string> }
  // biome-ignore lint/suspicious/noExplicitAny: rendered manifests are checked field by field in the tests
  [field: string]: any
}

export interface HelmResult {
  ok: boolean
  stdout: string
  stderr: string
}

async function helmRun(args: string[]): Promise<HelmResult> {
  try {
    const r = await run(await helm(), args, { cwd: chartDir, timeout: 120_000, maxBuffer: 16 * 1024 * 1024 })
    return { ok: true, stdout: r.stdout, stderr: r.stderr }
  } catch (error) {
    const e = error as { stdout?: string; stderr?: string; message: string }
    return { ok: false, stdout: e.stdout ?? '', stderr: e.stderr ?? e.message }
  }
}

/** `helm template` with values files (relative to the chart) and `--set-json` overrides. */
export function template(valuesFiles: string[] = [], setJson: string[] = []): Promise<HelmResult> {
  return helmRun([
    'template',
    'tidings',
    '.',
    '--namespace',
    'notify',
    '--kube-version',
    KUBE_VERSION,
    ...valuesFiles.flatMap((f) => ['-f', f]),
    ...setJson.flatMap((s) => ['--set-json', s]),
  ])
}

export function lint(valuesFiles: string[] = []): Promise<HelmResult> {
  return helmRun(['lint', '--strict', '.', ...valuesFiles.flatMap((f) => ['-f', f])])
}

/** Renders and parses; throws with helm's message when rendering fails. */
export async function render(valuesFiles: string[] = [], setJson: string[] = []): Promise<K8sObject[]> {
  const r = await template(valuesFiles, setJson)
  if (!r.ok) throw new Error(`helm template failed: ${r.stderr}`)
  return parseAllDocuments(r.stdout)
    .map((d) => {
      if (d.errors.length > 0) throw new Error(`rendered YAML does not parse: ${d.errors[0]!.message}`)
      return d.toJS() as K8sObject | null
    })
    .filter((o): o is K8sObject => o !== null)
}

export const find = (objects: K8sObject[], kind: string, nameSuffix: string): K8sObject => {
  const o = objects.find((x) => x.kind === kind && x.metadata.name.endsWith(nameSuffix))
  if (!o)
    throw new Error(
      `no ${kind} named *${nameSuffix} in ${objects.map((x) => `${x.kind}/${x.metadata.name}`).join(', ')}`,
    )
  return o
}
