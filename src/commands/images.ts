import {Args, Flags} from '@oclif/core'
import {BaseCommand} from '../cli/base-command.js'
import {columns, humanAge, humanSize, shortId} from '../cli/format.js'
import {invalidArgument} from '../errors.js'
import type {ImageListing} from '../service/images.js'

export default class Images extends BaseCommand {
  static override summary = 'List the images in the store.'
  static override description = `Shows every stored name with its image: repository, tag, image ID (the config
digest, as docker), when the image was created, and the size of its unpacked layers.

REFERENCE keeps only the images of that repository (and tag, when given), written
as you would pull it: busybox, busybox:latest, docker.io/library/busybox,
127.0.0.1:5000/app:1.

--format takes docker's placeholders: {{.Repository}}, {{.Tag}}, {{.ID}},
{{.Digest}}, {{.CreatedSince}}, {{.CreatedAt}}, {{.Size}}, {{json .}} (every field
as one JSON object) and {{json .Field}}. A format starting with "table" prints a
header row and aligns the columns that \\t separates.`

  static override examples = [
    '<%= config.bin %> images',
    '<%= config.bin %> images busybox',
    '<%= config.bin %> images -q',
    '<%= config.bin %> images --digests --no-trunc',
    '<%= config.bin %> images --format "{{.Repository}}:{{.Tag}}"',
    '<%= config.bin %> images --format "table {{.Repository}}\\t{{.Tag}}\\t{{.Size}}"',
    '<%= config.bin %> images --json',
  ]

  static override args = {
    reference: Args.string({description: 'show only images of this repository (optionally :tag)'}),
  }

  static override flags = {
    quiet: Flags.boolean({char: 'q', description: 'print only image IDs'}),
    json: Flags.boolean({description: 'print the list as JSON'}),
    format: Flags.string({description: 'print each image with a Go-template-like format (see the description)'}),
    digests: Flags.boolean({description: 'show a DIGEST column'}),
    'no-trunc': Flags.boolean({description: 'print full image IDs (sha256:...)'}),
    all: Flags.boolean({char: 'a', description: 'show all images (the store keeps no intermediate images, so this is every image)'}),
  }

  async run(): Promise<void> {
    const {args, flags} = await this.parse(Images)
    const {listImages} = await import('../service/images.js')
    const images = listImages(await this.store(flags.root)).filter(
      (image) => !args.reference || matchesFilter(image, args.reference),
    )

    if (flags.json) {
      this.log(JSON.stringify(images, null, 2))
      return
    }
    const noTrunc = flags['no-trunc']
    if (flags.quiet) {
      for (const id of new Set(images.map((image) => imageId(image, noTrunc)))) this.log(id)
      return
    }
    if (flags.format !== undefined) {
      const output = await renderFormat(flags.format, images.map((image) => templateFields(image, noTrunc)))
      if (output !== '') this.log(output)
      return
    }
    this.log(await defaultTable(images, {digests: flags.digests, noTrunc}))
  }
}

/** docker's IMAGE ID: 12 hex digits, or the whole digest with --no-trunc. */
function imageId(image: ImageListing, noTrunc: boolean): string {
  return noTrunc ? image.id : shortId(image.id)
}

async function defaultTable(images: ImageListing[], options: {digests: boolean; noTrunc: boolean}): Promise<string> {
  const headers = ['REPOSITORY', 'TAG', ...(options.digests ? ['DIGEST'] : []), 'IMAGE ID', 'CREATED', 'SIZE']
  const rows = images.map((image) => [
    image.repository,
    image.tag,
    ...(options.digests ? [image.digest] : []),
    imageId(image, options.noTrunc),
    humanAge(image.created),
    humanSize(image.size),
  ])
  return columns(headers, rows)
}

/**
 * Keeps an image when it is of the repository `filter` names (and of its tag,
 * when one is given). The repository is normalised as a reference, so
 * `busybox`, `library/busybox` and `docker.io/library/busybox` are the same.
 */
function matchesFilter(image: ImageListing, filter: string): boolean {
  const [repositoryPart, tag] = filter.split(/:(?=[^/]*$)/)
  const wanted = normalisedRepository(repositoryPart)
  const actual = normalisedRepository(image.name.replace(/[:@][^/]*$/, ''))
  const sameRepository = wanted !== undefined ? wanted === actual : image.repository === repositoryPart
  return sameRepository && (tag === undefined || image.tag === tag)
}

function normalisedRepository(text: string): string | undefined {
  const match = /^(?:([^/]*[.:][^/]*|localhost)\/)?(.+)$/.exec(text)
  if (!match) return undefined
  const registry = match[1] === undefined || match[1] === 'index.docker.io' ? 'docker.io' : match[1]
  const path = registry === 'docker.io' && !match[2].includes('/') ? `library/${match[2]}` : match[2]
  return `${registry}/${path}`
}

/** The fields docker's image formatter offers, with docker's names and column headers. */
const TEMPLATE_FIELDS: Record<string, string> = {
  Repository: 'REPOSITORY',
  Tag: 'TAG',
  ID: 'IMAGE ID',
  Digest: 'DIGEST',
  CreatedSince: 'CREATED',
  CreatedAt: 'CREATED AT',
  Size: 'SIZE',
  VirtualSize: 'SIZE',
  Containers: 'CONTAINERS',
}

function templateFields(image: ImageListing, noTrunc: boolean): Record<string, string> {
  return {
    Containers: 'N/A',
    CreatedAt: dockerTime(image.created),
    CreatedSince: humanAge(image.created),
    Digest: image.digest,
    ID: imageId(image, noTrunc),
    Repository: image.repository,
    Size: humanSize(image.size),
    Tag: image.tag,
    VirtualSize: humanSize(image.size),
  }
}

// docker prints Go's time.Time String(): `2024-01-02 15:04:05 +0000 UTC`.
function dockerTime(iso: string | null): string {
  if (!iso || Number.isNaN(Date.parse(iso))) return 'N/A'
  return `${new Date(iso).toISOString().replace('T', ' ').replace(/\.\d+Z$/, '').replace('Z', '')} +0000 UTC`
}

/**
 * Renders `format` for each row as docker does: `\t` and `\n` typed literally
 * become tab and newline; a leading `table` adds a header row and aligns the
 * tab-separated cells. Throws INVALID_ARGUMENT for an unknown placeholder.
 */
async function renderFormat(format: string, rows: Array<Record<string, string>>): Promise<string> {
  const isTable = format.startsWith('table')
  const body = (isTable ? format.slice('table'.length) : format).trim().replaceAll('\\t', '\t').replaceAll('\\n', '\n')
  const render = (row: Record<string, string> | undefined) =>
    body.replace(/\{\{\s*(.*?)\s*\}\}/g, (_match, action: string) => evaluate(action, row))
  const lines = rows.map((row) => render(row))
  if (!isTable) return lines.join('\n')

  const header = render(undefined).split('\t')
  return columns(header, lines.map((line) => line.split('\t')))
}

// One template action: `.Field`, `json .` or `json .Field`. Without a row, the
// column header of the action.
function evaluate(action: string, row: Record<string, string> | undefined): string {
  const json = /^json\s+(.+)$/.exec(action)
  const target = (json ? json[1] : action).trim()
  if (target === '.') {
    if (!json) throw unknownPlaceholder(action)
    return row ? JSON.stringify(row) : ''
  }
  const field = /^\.(\w+)$/.exec(target)?.[1]
  if (field === undefined || !(field in TEMPLATE_FIELDS)) throw unknownPlaceholder(action)
  if (!row) return TEMPLATE_FIELDS[field]
  return json ? JSON.stringify(row[field]) : row[field]
}

function unknownPlaceholder(action: string): Error {
  const known = Object.keys(TEMPLATE_FIELDS).map((name) => `{{.${name}}}`)
  return invalidArgument(`invalid format: cannot evaluate "{{${action}}}"`, {
    hint: `use ${known.join(', ')} or {{json .}}`,
  })
}
