import { WS_PATH } from './wire.ts'

export interface Endpoints {
  /** `ws(s)://host[/prefix]` */
  ws: string
  /** `http(s)://host[/prefix]` */
  http: string
}

// String handling on purpose: React Native's `URL` implements little beyond construction.
const URL_RE = /^(wss?|https?):\/\/([^/?#]+)(\/[^?#]*)?$/i

/**
 * The gateway's base URL: `wss://host`, `https://host`, optionally with a path prefix when the
 * gateway sits behind one (`wss://host/tidings`). A trailing `/v1/ws` is tolerated.
 */
export function endpoints(url: string): Endpoints {
  const m = URL_RE.exec(url.trim())
  if (!m) throw new TypeError(`url must be an absolute ws(s):// or http(s):// URL without query: ${url}`)
  const scheme = m[1]!.toLowerCase()
  const secure = scheme === 'wss' || scheme === 'https'
  let path = (m[3] ?? '').replace(/\/+$/, '')
  if (path.endsWith(WS_PATH)) path = path.slice(0, -WS_PATH.length)
  const rest = `://${m[2]}${path}`
  return { ws: (secure ? 'wss' : 'ws') + rest, http: (secure ? 'https' : 'http') + rest }
}

/** `?a=1&b=x` from defined values, or '' when there are none. */
export function query(params: Record<string, string | number | undefined>): string {
  const parts: string[] = []
  for (const [k, v] of Object.entries(params)) {
    if (v !== undefined) parts.push(`${encodeURIComponent(k)}=${encodeURIComponent(String(v))}`)
  }
  return parts.length ? `?${parts.join('&')}` : ''
}
