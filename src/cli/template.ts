/**
 * docker's `--format` templates, the subset people use: `{{.Field}}`,
 * `{{json .}}`, `{{json .Field}}`, and a leading `table` that adds a header row
 * and aligns the tab-separated cells.
 */
import {invalidArgument} from '../errors.js'
import {columns} from './format.js'

/**
 * Renders `format` once per row. `headers` names the fields a row has and
 * their column headers. `\t` and `\n` typed literally become tab and newline.
 * Throws INVALID_ARGUMENT for an unknown placeholder.
 */
export async function renderTemplate(
  format: string,
  headers: Record<string, string>,
  rows: Array<Record<string, string>>,
): Promise<string> {
  const isTable = format.startsWith('table')
  const body = (isTable ? format.slice('table'.length) : format).trim().replaceAll('\\t', '\t').replaceAll('\\n', '\n')
  const render = (row: Record<string, string> | undefined) =>
    body.replace(/\{\{\s*(.*?)\s*\}\}/g, (_match, action: string) => evaluate(action, headers, row))
  const lines = rows.map((row) => render(row))
  if (!isTable) return lines.join('\n')

  const header = render(undefined).split('\t')
  return columns(header, lines.map((line) => line.split('\t')))
}

// One action: `.Field`, `json .` or `json .Field`. Without a row, the column
// header of the action.
function evaluate(action: string, headers: Record<string, string>, row: Record<string, string> | undefined): string {
  const json = /^json\s+(.+)$/.exec(action)
  const target = (json ? json[1] : action).trim()
  if (target === '.') {
    if (!json) throw unknownPlaceholder(action, headers)
    return row ? JSON.stringify(row) : ''
  }
  const field = /^\.(\w+)$/.exec(target)?.[1]
  if (field === undefined || !(field in headers)) throw unknownPlaceholder(action, headers)
  if (!row) return headers[field]
  return json ? JSON.stringify(row[field]) : row[field]
}

function unknownPlaceholder(action: string, headers: Record<string, string>): Error {
  const known = Object.keys(headers).map((name) => `{{.${name}}}`)
  return invalidArgument(`invalid format: cannot evaluate "{{${action}}}"`, {
    hint: `use ${known.join(', ')} or {{json .}}`,
  })
}
