/**
 * Errors of the registry client. A RegistryError says which request failed (method,
 * redacted URL, status), what the registry said (distribution-spec error codes or a
 * short excerpt of a text or XML body) and whether trying again may help.
 */
import {type ErrorCode, MydockerError, type MydockerErrorOptions} from '../errors.js'

/** Longest excerpt of a non-JSON error body quoted in a message. */
const EXCERPT_LENGTH = 200

/** The fields of a RegistryError besides its code and message. */
export interface RegistryErrorDetails extends MydockerErrorOptions {
  method: string
  /** The request URL; redacted here, whatever is passed. */
  url: string | URL
  status?: number
  /** `errors[].code` of a distribution-spec error body. */
  registryCodes?: string[]
  /** Whether the same request may succeed later (5xx, 429, network failures). */
  temporary?: boolean
  /** How long the registry asked to wait before trying again (Retry-After), in milliseconds. */
  retryAfter?: number
}

/** A failed registry request. Branch on `code`, `status` or `registryCodes`, never on the message. */
export class RegistryError extends MydockerError {
  readonly method: string
  readonly url: string
  readonly status?: number
  readonly registryCodes: string[]
  readonly temporary: boolean
  readonly retryAfter?: number

  constructor(code: ErrorCode, message: string, details: RegistryErrorDetails) {
    super(code, message, details)
    this.name = 'RegistryError'
    this.method = details.method
    this.url = redactUrl(details.url)
    this.status = details.status
    this.registryCodes = details.registryCodes ?? []
    this.temporary = details.temporary ?? false
    this.retryAfter = details.retryAfter
  }
}

/**
 * The URL without user info and with query values hidden: storage redirects carry
 * signatures and tokens in the query (S3's X-Amz-Signature, CDN tokens).
 */
export function redactUrl(url: string | URL): string {
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch {
    return '(invalid URL)'
  }
  parsed.username = ''
  parsed.password = ''
  for (const key of [...parsed.searchParams.keys()]) parsed.searchParams.set(key, 'REDACTED')
  return parsed.toString()
}

/** What an error body says: its distribution-spec codes and a one-line summary. */
export interface ErrorBodySummary {
  codes: string[]
  summary?: string
}

/**
 * Reads an error body of any kind. JSON `{"errors": [{code, message}]}` gives codes
 * and messages; anything else (text, S3's XML, HTML) a short excerpt. Never throws.
 */
export function summarizeErrorBody(body: Buffer | string | undefined): ErrorBodySummary {
  const text = (typeof body === 'string' ? body : body?.toString('utf8') ?? '').trim()
  if (text.length === 0) return {codes: []}

  const fromJson = summarizeJsonErrors(text)
  if (fromJson !== undefined) return fromJson
  return {codes: [], summary: excerpt(text)}
}

function summarizeJsonErrors(text: string): ErrorBodySummary | undefined {
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch {
    return undefined
  }

  const errors = (value as {errors?: unknown})?.errors
  if (!Array.isArray(errors)) return {codes: [], summary: excerpt(text)}
  const entries = errors.filter((entry): entry is {code?: unknown; message?: unknown} => typeof entry === 'object' && entry !== null)
  const codes = entries.map((entry) => String(entry.code ?? 'UNKNOWN'))
  const messages = entries.map((entry) => [entry.code, entry.message].filter((part) => typeof part === 'string' && part).join(': '))
  return {codes, summary: excerpt(messages.filter(Boolean).join('; '))}
}

function excerpt(text: string): string {
  const oneLine = text.replace(/\s+/g, ' ')
  return oneLine.length > EXCERPT_LENGTH ? `${oneLine.slice(0, EXCERPT_LENGTH)}...` : oneLine
}

/** The error category for an HTTP status. */
export function codeForStatus(status: number): ErrorCode {
  if (status === 404) return 'NOT_FOUND'
  if (status === 401 || status === 403) return 'UNAUTHORIZED'
  if (status === 429 || status >= 500) return 'UNAVAILABLE'
  return 'INTERNAL'
}

/** True for statuses after which the same request may succeed. */
export function isTemporaryStatus(status: number): boolean {
  return status === 408 || status === 429 || status >= 500
}

/** The longest Retry-After obeyed, in milliseconds; a registry asking for more is given up on. */
export const MAX_RETRY_AFTER = 60_000

/** A Retry-After header (seconds or an HTTP date) in milliseconds; undefined when absent or invalid. */
export function parseRetryAfter(value: string | string[] | undefined, now = Date.now()): number | undefined {
  const text = Array.isArray(value) ? value[0] : value
  if (text === undefined || text.trim() === '') return undefined
  const seconds = Number(text)
  if (Number.isFinite(seconds)) return seconds >= 0 ? seconds * 1000 : undefined
  const date = Date.parse(text)
  return Number.isNaN(date) ? undefined : Math.max(0, date - now)
}
