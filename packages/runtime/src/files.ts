import { readFileSync } from 'node:fs'
import { ConfigError } from './config.ts'

/**
 * Reads a file named by a setting (a mounted Secret: a password, a PEM) once, at start. A missing or
 * unreadable file is a ConfigError naming the variable, never a crash later. Trailing newlines are
 * dropped from text (`echo secret > file` and `kubectl create secret --from-file` both add one).
 */
export function readSettingFile(variable: string, path: string): string {
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (err) {
    throw new ConfigError(
      `${variable} cannot be read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message} (${path})`,
      variable,
    )
  }
  const value = text.replace(/\r?\n+$/, '')
  if (value === '') throw new ConfigError(`${variable} names an empty file (${path})`, variable)
  return value
}

/** A value given either directly (`NAME`) or as a file (`NAME_FILE`), never both. */
export function valueOrFile(env: Record<string, string | undefined>, variable: string): string | undefined {
  const direct = env[variable]
  const file = env[`${variable}_FILE`]
  if (direct !== undefined && file !== undefined)
    throw new ConfigError(`${variable} and ${variable}_FILE are both set: keep one`, variable)
  return file !== undefined ? readSettingFile(`${variable}_FILE`, file) : direct
}
