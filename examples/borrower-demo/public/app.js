// @ts-check
// The borrower page: plain browser ES modules, no bundler. The SDK is the package's own build
// (packages/client/dist), served by the demo server under /sdk/.
import { createTidingsClient, localStorageAdapter } from '/sdk/index.js'

/** @typedef {import('/sdk/index.js').NotificationFrame} NotificationFrame */
/** @typedef {Omit<NotificationFrame, 'type'>} StoredNotification */
/** @typedef {{ gatewayUrls: string[], borrowerId: string, demoTokenEndpoint: string }} DemoConfig */

const MAX_HISTORY = 200
const TOKEN_MIN_LIFE_MS = 60_000

/** What the banner says for a decision; decisions not listed here use the notification's own title. */
const BANNER_TEXT = /** @type {Record<string, string>} */ ({
  APPROVED: 'Your loan application has been approved!',
})

/** @param {string} id @returns {HTMLElement} */
const $ = (id) => {
  const el = document.getElementById(id)
  if (!el) throw new Error(`#${id} is missing`)
  return el
}

/**
 * @param {string} tag
 * @param {Record<string, string>} [attrs]
 * @param {(string | Node)[]} [children]
 */
function h(tag, attrs = {}, children = []) {
  const el = document.createElement(tag)
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v)
  for (const c of children) el.append(c)
  return el
}

const config = /** @type {DemoConfig} */ (await (await fetch('/config.json')).json())
const borrowerId = new URLSearchParams(location.search).get('borrower') || config.borrowerId
$('borrower').textContent = borrowerId
document.title = `My loans (${borrowerId}) — Tidings demo`

// ---------- the app's own store: every notification once (by id), kept across reloads ----------

const historyKey = `tidings.demo.history.${borrowerId}`
/** @type {StoredNotification[]} */
let history = []
try {
  history = JSON.parse(localStorage.getItem(historyKey) ?? '[]')
} catch {
  history = []
}
const ids = new Set(history.map((n) => n.id))

/** newest first: by creation time, then seq (a seq restarts when the user's epoch changes) */
const newestFirst = (/** @type {StoredNotification} */ a, /** @type {StoredNotification} */ b) =>
  Date.parse(b.createdAt) - Date.parse(a.createdAt) || b.seq - a.seq

/** @param {StoredNotification[]} items @returns {boolean} whether anything was new */
function remember(items) {
  let added = false
  for (const n of items) {
    if (ids.has(n.id)) continue // the same event for the same user always has the same id
    ids.add(n.id)
    history.push(n)
    added = true
  }
  if (!added) return false
  history.sort(newestFirst)
  for (const dropped of history.splice(MAX_HISTORY)) ids.delete(dropped.id)
  localStorage.setItem(historyKey, JSON.stringify(history))
  render()
  return true
}

// ---------- rendering ----------

/** @param {unknown} amount */
function formatAmount(amount) {
  if (!amount || typeof amount !== 'object') return ''
  const { value, currency } = /** @type {{ value?: unknown, currency?: unknown }} */ (amount)
  if (typeof value !== 'number' || typeof currency !== 'string') return ''
  try {
    return new Intl.NumberFormat('en', { style: 'currency', currency }).format(value)
  } catch {
    return `${value} ${currency}`
  }
}

/** @param {string} iso */
const formatTime = (iso) => new Date(iso).toLocaleString('en', { dateStyle: 'medium', timeStyle: 'medium' })

function renderBanners() {
  /** the latest decision per loan (history is newest first) */
  const latest = new Map()
  for (const n of history) {
    const loanId = n.data?.loanId
    if (n.kind !== 'loan.decision' || typeof loanId !== 'string' || latest.has(loanId)) continue
    latest.set(loanId, n)
  }
  const box = $('banners')
  const banners = [...latest.values()].map((/** @type {StoredNotification} */ n) => {
    const decision = String(n.data.decision ?? '')
    const amount = formatAmount(n.data.amount)
    return h('article', { class: 'banner', 'data-loan': String(n.data.loanId), 'data-decision': decision }, [
      h('h3', {}, [BANNER_TEXT[decision] ?? n.title]),
      h('p', {}, [n.body]),
      h('p', { class: 'meta' }, [
        `Loan ${n.data.loanId}${amount ? ` · ${amount}` : ''} · `,
        h('time', { datetime: n.createdAt }, [formatTime(n.createdAt)]),
      ]),
    ])
  })
  $('no-banner').hidden = banners.length > 0
  box.replaceChildren($('no-banner'), ...banners)
}

function renderHistory() {
  const rows = history.map((n) =>
    h('li', { 'data-id': n.id, 'data-seq': String(n.seq) }, [
      h('div', { class: 'title' }, [n.title]),
      h('p', { class: 'body' }, [n.body]),
      h('time', { datetime: n.createdAt }, [formatTime(n.createdAt)]),
      h('span', { class: 'kind' }, [` · ${n.kind}`]),
    ]),
  )
  $('history').replaceChildren(...rows)
  $('no-history').hidden = rows.length > 0
}

function render() {
  renderBanners()
  renderHistory()
}

/** @param {string} state @param {string} text @param {string} [gateway] */
function showConnection(state, text, gateway) {
  const el = $('connection')
  el.dataset.state = state
  if (gateway) el.dataset.gateway = gateway
  else delete el.dataset.gateway
  $('connection-text').textContent = text
}

/** @param {string} text */
function notice(text) {
  const el = $('notice')
  el.textContent = text
  el.hidden = false
}

render()

// ---------- the SDK ----------

/** @type {{ token: string, expiresAt: number } | undefined} */
let cached
async function freshToken() {
  // DEMO SHORTCUT: the demo server signs a token for any borrower. A real app asks its login.
  const res = await fetch(`${config.demoTokenEndpoint}?borrower=${encodeURIComponent(borrowerId)}`)
  if (!res.ok) throw new Error(`token endpoint answered HTTP ${res.status}`)
  const body = /** @type {{ token: string, expiresInS: number }} */ (await res.json())
  cached = { token: body.token, expiresAt: Date.now() + body.expiresInS * 1000 }
  return body.token
}

// every gateway serves every borrower: start on a random one, the SDK moves on to the next on a reconnect
const urls = [...config.gatewayUrls]
for (let i = urls.length - 1; i > 0; i--) {
  const j = Math.floor(Math.random() * (i + 1))
  ;[urls[i], urls[j]] = [/** @type {string} */ (urls[j]), /** @type {string} */ (urls[i])]
}

const client = createTidingsClient({
  urls,
  getToken: ({ reason }) =>
    reason === 'connect' && cached && cached.expiresAt - Date.now() > TOKEN_MIN_LIFE_MS
      ? cached.token
      : freshToken(),
  storage: localStorageAdapter(localStorage, `tidings.demo.resume.${borrowerId}`),
  onNotification: (n) => {
    const { type: _type, ...stored } = n
    remember([stored])
  },
})

client.on('state', (s) => {
  if (s.state === 'open') {
    const host = s.session.url.replace(/^\w+:\/\//, '')
    showConnection('open', `Live · ${host}`, s.session.url)
  } else if (s.state === 'connecting') {
    showConnection('connecting', s.attempt > 0 ? `Connecting (attempt ${s.attempt + 1})…` : 'Connecting…')
  } else if (s.state === 'reconnecting') {
    showConnection('reconnecting', `Reconnecting in ${(s.delayMs / 1000).toFixed(1)} s…`)
  } else {
    showConnection('closed', 'Offline')
  }
})
client.on('error', (e) => console.warn('tidings:', e.kind, e.message, e.cause ?? ''))

// Some notifications can no longer be delivered (expired, trimmed, or the server lost its state):
// refetch what the gateway still holds. (A real app would also reload the loans from its API.)
client.on('missed', () => void refetchInbox())

async function refetchInbox() {
  const base = client.session?.url ?? urls[0] ?? ''
  try {
    const token = cached?.token ?? (await freshToken())
    const res = await fetch(`${base.replace(/^ws/, 'http')}/v1/inbox`, {
      headers: { authorization: `Bearer ${token}` },
    })
    if (!res.ok) throw new Error(`GET /v1/inbox answered HTTP ${res.status}`)
    const inbox = /** @type {{ notifications: StoredNotification[] }} */ (await res.json())
    remember(inbox.notifications)
    notice('Some older notifications could not be delivered; this page was refreshed from your inbox.')
  } catch (error) {
    console.warn('tidings: inbox refetch failed', error)
    notice('Some notifications could not be delivered, and refreshing failed. Reload the page to try again.')
  }
}

$('clear').addEventListener('click', () => {
  history = []
  ids.clear()
  localStorage.removeItem(historyKey)
  render()
})

addEventListener('pagehide', () => void client.flush())

client.connect().catch((error) => console.warn('tidings: connect failed', error))
