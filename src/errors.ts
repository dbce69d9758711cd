/**
 * The error taxonomy shared by every part of mydocker.
 *
 * Code branches on `code` (or the class), never on message text. Messages start
 * lowercase, name the object they are about, and may carry a `hint` that tells the
 * user what to do next. The CLI turns any MydockerError into one line on stderr and
 * the exit status in `exitCode` (125 unless the error says otherwise, as Docker).
 */

/** Stable error categories. */
export type ErrorCode =
  | 'INVALID_ARGUMENT'
  | 'NOT_FOUND'
  | 'ALREADY_EXISTS'
  | 'CONFLICT'
  | 'UNAVAILABLE'
  | 'UNAUTHORIZED'
  | 'UNSUPPORTED'
  | 'DIGEST_MISMATCH'
  | 'NO_SPACE'
  | 'CORRUPT'
  | 'INTERNAL'

export interface MydockerErrorOptions {
  /** What the user can do about it, printed after the message. */
  hint?: string
  /** The underlying error. */
  cause?: unknown
  /** Process exit status when this error ends a command; 125 by default. */
  exitCode?: number
}

/** The one error class of mydocker; subclasses only add fields. */
export class MydockerError extends Error {
  readonly code: ErrorCode
  readonly hint?: string
  readonly exitCode: number

  constructor(code: ErrorCode, message: string, options: MydockerErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : {cause: options.cause})
    this.name = 'MydockerError'
    this.code = code
    this.hint = options.hint
    this.exitCode = options.exitCode ?? 125
  }
}

/** True when `error` is a MydockerError of the given code. */
export function isErrorCode(error: unknown, code: ErrorCode): boolean {
  return error instanceof MydockerError && error.code === code
}

export function invalidArgument(message: string, options?: MydockerErrorOptions): MydockerError {
  return new MydockerError('INVALID_ARGUMENT', message, options)
}

export function notFound(message: string, options?: MydockerErrorOptions): MydockerError {
  return new MydockerError('NOT_FOUND', message, options)
}

export function conflict(message: string, options?: MydockerErrorOptions): MydockerError {
  return new MydockerError('CONFLICT', message, options)
}

export function unsupported(message: string, options?: MydockerErrorOptions): MydockerError {
  return new MydockerError('UNSUPPORTED', message, options)
}

export function digestMismatch(message: string, options?: MydockerErrorOptions): MydockerError {
  return new MydockerError('DIGEST_MISMATCH', message, options)
}

export function corrupt(message: string, options?: MydockerErrorOptions): MydockerError {
  return new MydockerError('CORRUPT', message, options)
}

/** The hint of an error about damage in the store that a repair and a new pull mend. */
export const REPAIR_HINT = 'run `mydocker system check --repair`, then pull the image again'

/**
 * True for a system error that says the disk (or the user's quota) is full:
 * ENOSPC or EDQUOT from a file, SQLITE_FULL from the index.
 */
export function isNoSpaceError(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException | undefined)?.code
  return code === 'ENOSPC' || code === 'EDQUOT' || code === 'SQLITE_FULL'
}

/**
 * Wraps a Node system error met while working on the store. A full disk
 * (isNoSpaceError) becomes NO_SPACE naming the store, so it reads the same
 * wherever it struck.
 */
export function fromSystemError(error: unknown, what: string, storeRoot?: string): MydockerError {
  if (error instanceof MydockerError) return error
  if (isNoSpaceError(error)) {
    return new MydockerError('NO_SPACE', `no space left on ${storeRoot ?? 'the store'} while ${what}`, {
      cause: error,
      hint: 'free some space (mydocker system prune removes what no image uses) and try again',
    })
  }

  const detail = error instanceof Error ? error.message : String(error)
  return new MydockerError('INTERNAL', `${what}: ${detail}`, {cause: error})
}
