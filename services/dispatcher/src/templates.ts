// What a borrower reads for each loan decision, in every supported locale. Supporting a new
// decision means adding an entry here (with every locale: a test checks that); until then events
// carrying it are dead-lettered as `unmapped`.
import type { Locale, Money } from '@tidings/contracts'

export interface LoanTemplateInput {
  loanId: string
  /** Present only when the event carried an amount. */
  amount?: Money | undefined
}

export interface RenderedText {
  title: string
  body: string
}

/** Receives the amount already formatted for the locale (or undefined). */
type Template = (loanId: string, amount: string | undefined) => RenderedText

const templates = new Map<string, Readonly<Record<Locale, Template>>>([
  [
    'APPROVED',
    {
      en: (id, amt) => ({
        title: 'Your loan application has been approved!',
        body: amt ? `Your loan ${id} for ${amt} has been approved.` : `Your loan ${id} has been approved.`,
      }),
      bn: (id, amt) => ({
        title: 'আপনার ঋণের আবেদন অনুমোদিত হয়েছে!',
        body: amt ? `আপনার ${amt} পরিমাণের ঋণ (${id}) অনুমোদিত হয়েছে।` : `আপনার ঋণ (${id}) অনুমোদিত হয়েছে।`,
      }),
    },
  ],
  [
    'REJECTED',
    {
      en: (id) => ({
        title: 'Your loan application was not approved',
        body: `We're sorry, your application for loan ${id} was not approved this time.`,
      }),
      bn: (id) => ({
        title: 'আপনার ঋণের আবেদন অনুমোদিত হয়নি',
        body: `দুঃখিত, এবার আপনার ঋণ (${id})-এর আবেদনটি অনুমোদন করা সম্ভব হয়নি।`,
      }),
    },
  ],
  [
    'NEEDS_INFO',
    {
      en: (id) => ({
        title: 'We need more information',
        body: `Please provide the additional information requested for your loan application ${id}.`,
      }),
      bn: (id) => ({
        title: 'আরও তথ্য প্রয়োজন',
        body: `আপনার ঋণের আবেদন (${id})-এর জন্য অনুরোধ করা অতিরিক্ত তথ্য দিন।`,
      }),
    },
  ],
  [
    'DISBURSED',
    {
      en: (id, amt) => ({
        title: 'Your loan has been disbursed',
        body: amt
          ? `${amt} for loan ${id} has been sent to your account.`
          : `The money for loan ${id} has been sent to your account.`,
      }),
      bn: (id, amt) => ({
        title: 'আপনার ঋণের টাকা পাঠানো হয়েছে',
        body: amt
          ? `ঋণ (${id})-এর ${amt} আপনার অ্যাকাউন্টে পাঠানো হয়েছে।`
          : `ঋণ (${id})-এর টাকা আপনার অ্যাকাউন্টে পাঠানো হয়েছে।`,
      }),
    },
  ],
])

/** Decisions that have a template (a Map, so that "toString" or "__proto__" are not decisions). */
export const MAPPED_DECISIONS: readonly string[] = [...templates.keys()]

/** `bn` is Bangla; anything else, including absent or unknown locales, is English (docs/protocol.md §2.2). */
export function resolveLocale(value: unknown): Locale {
  return value === 'bn' ? 'bn' : 'en'
}

// Bangladeshi conventions: the taka sign and, in Bangla, Bengali digits ("৫০,০০০.০০৳").
const NUMBER_LOCALE: Record<Locale, string> = { en: 'en-BD', bn: 'bn-BD' }
const formatters = new Map<string, Intl.NumberFormat>()

export function formatAmount(amount: Money, locale: Locale): string {
  const key = `${locale}|${amount.currency}`
  let f = formatters.get(key)
  if (!f) {
    f = new Intl.NumberFormat(NUMBER_LOCALE[locale], {
      style: 'currency',
      currency: amount.currency,
      currencyDisplay: 'narrowSymbol',
    })
    formatters.set(key, f)
  }
  return f.format(amount.value)
}

/** The title and body for a decision, or undefined when the decision has no template. */
export function renderLoanDecision(
  decision: string,
  locale: Locale,
  input: LoanTemplateInput,
): RenderedText | undefined {
  const template = templates.get(decision)?.[locale]
  if (!template) return undefined
  return template(input.loanId, input.amount ? formatAmount(input.amount, locale) : undefined)
}
