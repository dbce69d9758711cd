import {Args, Flags} from '@oclif/core'
import {BaseCommand} from '../cli/base-command.js'
import {columns, humanAge, humanSize, shortId} from '../cli/format.js'

export default class Images extends BaseCommand {
  static override summary = 'List the images in the store.'
  static override description = `Shows every stored name with its image: repository, tag, image ID (the config
digest, as docker), when the image was created, and the size of its unpacked layers.`

  static override examples = ['<%= config.bin %> images', '<%= config.bin %> images -q', '<%= config.bin %> images --json']

  static override args = {
    reference: Args.string({description: 'show only images of this repository (optionally :tag)'}),
  }

  static override flags = {
    quiet: Flags.boolean({char: 'q', description: 'print only image IDs'}),
    json: Flags.boolean({description: 'print the list as JSON'}),
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
    if (flags.quiet) {
      for (const id of new Set(images.map((image) => shortId(image.id)))) this.log(id)
      return
    }
    const rows = images.map((image) => [image.repository, image.tag, shortId(image.id), humanAge(image.created), humanSize(image.size)])
    this.log(await columns(['REPOSITORY', 'TAG', 'IMAGE ID', 'CREATED', 'SIZE'], rows))
  }
}

function matchesFilter(image: {repository: string; tag: string; name: string}, filter: string): boolean {
  const [repository, tag] = filter.split(/:(?=[^/]*$)/)
  const sameRepository = image.repository === repository || image.name.startsWith(`${repository}:`) || image.name.startsWith(`${repository}@`)
  return sameRepository && (tag === undefined || image.tag === tag)
}
