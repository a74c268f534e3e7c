import type { Static, TObject } from '@sinclair/typebox'
import envSchema from 'env-schema'

/** A setting that is missing or wrong. The message names the environment variable. */
export class ConfigError extends Error {
  override name = 'ConfigError'
  readonly variable: string | undefined
  constructor(message: string, variable?: string) {
    super(message)
    this.variable = variable
  }
}

type EnvSource = Record<string, string | undefined>

/**
 * Parses and validates the environment once, at start, against a TypeBox schema whose keys are
 * the variable names. Strings are coerced to the schema's types and defaults are applied.
 * Throws a ConfigError naming the first variable that is wrong.
 */
export function loadConfig<T extends TObject>(schema: T, env: EnvSource = process.env): Static<T> {
  // Only the variables the schema declares are read; empty strings count as unset.
  const data: Record<string, string> = {}
  for (const key of Object.keys(schema.properties)) {
    const v = env[key]
    if (v !== undefined && v !== '') data[key] = v
  }
  try {
    return envSchema<Static<T>>({ schema: structuredClone(schema), data, env: false, dotenv: false })
  } catch (err) {
    throw toConfigError(err)
  }
}

interface AjvError {
  instancePath?: string
  message?: string
  params?: { missingProperty?: string }
}

function toConfigError(err: unknown): ConfigError {
  const first = (err as { errors?: AjvError[] }).errors?.[0]
  if (!first) return new ConfigError(`invalid configuration: ${(err as Error).message}`)
  const variable = first.params?.missingProperty ?? first.instancePath?.replace(/^\//, '')
  if (first.params?.missingProperty) return new ConfigError(`${variable} is required but not set`, variable)
  return new ConfigError(`${variable} ${first.message ?? 'is invalid'}`, variable)
}

/** For rules a schema cannot express (one of two variables, a file that must exist…). */
export function requireThat(condition: unknown, variable: string, message: string): asserts condition {
  if (!condition) throw new ConfigError(`${variable} ${message}`, variable)
}
