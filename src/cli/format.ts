/**
 * Formatting values the way docker prints them, so scripts and eyes used to
 * docker read mydocker's output the same way.
 */

const SIZE_UNITS = ['B', 'kB', 'MB', 'GB', 'TB', 'PB']

/** Decimal units with three significant digits: `4.26MB`, `77.8MB`, `512B`. */
export function humanSize(bytes: number): string {
  let value = bytes
  let unit = 0
  while (value >= 1000 && unit < SIZE_UNITS.length - 1) {
    value /= 1000
    unit++
  }
  return `${Number(value.toPrecision(3))}${SIZE_UNITS[unit]}`
}

/** How long ago `iso` was, in docker's words: `About a minute ago`, `3 weeks ago`. */
export function humanAge(iso: string | null | undefined, now = Date.now()): string {
  if (!iso) return 'N/A'
  const then = Date.parse(iso)
  if (Number.isNaN(then)) return 'N/A'
  return `${humanDuration(Math.max(0, now - then) / 1000)} ago`
}

function humanDuration(seconds: number): string {
  const minutes = seconds / 60
  const hours = minutes / 60
  if (seconds < 1) return 'Less than a second'
  if (seconds < 2) return '1 second'
  if (minutes < 1) return `${Math.floor(seconds)} seconds`
  if (minutes < 2) return 'About a minute'
  if (hours < 1) return `${Math.floor(minutes)} minutes`
  if (hours < 2) return 'About an hour'
  if (hours < 48) return `${Math.floor(hours)} hours`
  if (hours < 24 * 7 * 2) return `${Math.floor(hours / 24)} days`
  if (hours < 24 * 30 * 2) return `${Math.floor(hours / 24 / 7)} weeks`
  if (hours < 24 * 365 * 2) return `${Math.floor(hours / 24 / 30)} months`
  return `${Math.floor(hours / 24 / 365)} years`
}

/** The 12-hex short form of a digest, as docker's IMAGE ID column. */
export function shortId(digest: string): string {
  return digest.replace(/^sha256:/, '').slice(0, 12)
}

/** Lays rows out in space-separated columns like docker's tables. */
export async function columns(headers: string[], rows: string[][]): Promise<string> {
  const {default: Table} = await import('cli-table3')
  const table = new Table({
    head: headers,
    chars: {
      top: '', 'top-mid': '', 'top-left': '', 'top-right': '', bottom: '', 'bottom-mid': '', 'bottom-left': '',
      'bottom-right': '', left: '', 'left-mid': '', mid: '', 'mid-mid': '', right: '', 'right-mid': '', middle: '   ',
    },
    style: {head: [], border: [], 'padding-left': 0, 'padding-right': 0},
  })
  table.push(...rows)
  return table
    .toString()
    .split('\n')
    .map((line) => line.trimEnd())
    .join('\n')
}
