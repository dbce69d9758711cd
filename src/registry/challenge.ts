/**
 * Parsing of WWW-Authenticate challenges (RFC 7235 section 4.1):
 *
 *   Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="a,b"
 *
 * Schemes and parameter names are case-insensitive; values are tokens or quoted
 * strings, which may hold commas and backslash escapes. One header may carry several
 * challenges (Node joins repeated headers with ", ").
 */

/** One challenge: the scheme in lowercase and its parameters keyed in lowercase. */
export interface Challenge {
  scheme: string
  parameters: Record<string, string>
}

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+/

/** Parses a WWW-Authenticate header value; unparseable tails are ignored. */
export function parseChallenges(header: string | string[] | undefined): Challenge[] {
  if (header === undefined) return []
  const text = Array.isArray(header) ? header.join(', ') : header
  const scanner = new Scanner(text)
  const challenges: Challenge[] = []

  while (!scanner.done()) {
    scanner.skip(/^[\s,]+/)
    const scheme = scanner.take(TOKEN)
    if (scheme === undefined) break
    const challenge: Challenge = {scheme: scheme.toLowerCase(), parameters: {}}
    challenges.push(challenge)
    readParameters(scanner, challenge)
  }
  return challenges
}

function readParameters(scanner: Scanner, challenge: Challenge): void {
  for (;;) {
    const mark = scanner.position
    scanner.skip(/^[\s,]+/)
    const name = scanner.take(TOKEN)
    scanner.skip(/^\s*/)
    // A token not followed by "=" starts the next challenge.
    if (name === undefined || !scanner.takeLiteral('=')) {
      scanner.position = mark
      return
    }

    scanner.skip(/^\s*/)
    const value = scanner.peek() === '"' ? scanner.takeQuoted() : (scanner.take(/^[^\s,]*/) ?? '')
    challenge.parameters[name.toLowerCase()] = value
  }
}

class Scanner {
  position = 0
  constructor(private readonly text: string) {}

  done(): boolean {
    return this.position >= this.text.length
  }

  peek(): string {
    return this.text[this.position] ?? ''
  }

  skip(pattern: RegExp): void {
    this.take(pattern)
  }

  take(pattern: RegExp): string | undefined {
    const match = pattern.exec(this.text.slice(this.position))
    if (match === null || match[0].length === 0) return undefined
    this.position += match[0].length
    return match[0]
  }

  takeLiteral(literal: string): boolean {
    if (!this.text.startsWith(literal, this.position)) return false
    this.position += literal.length
    return true
  }

  /** A quoted string from its opening quote; an unterminated one runs to the end. */
  takeQuoted(): string {
    let value = ''
    this.position++
    while (!this.done()) {
      const character = this.text[this.position++]
      if (character === '"') return value
      value += character === '\\' && !this.done() ? this.text[this.position++] : character
    }
    return value
  }
}
