import {Args, Flags} from '@oclif/core'
import {BaseCommand} from '../cli/base-command.js'
import {columns, humanAge, humanSize, shortId} from '../cli/format.js'
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
    const {listImages, matchesReferenceFilter} = await import('../service/images.js')
    const images = listImages(await this.store(flags.root)).filter(
      (image) => !args.reference || matchesReferenceFilter(image, args.reference),
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
      const {renderTemplate} = await import('../cli/template.js')
      const output = await renderTemplate(flags.format, TEMPLATE_FIELDS, images.map((image) => templateFields(image, noTrunc)))
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
