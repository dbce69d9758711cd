import {Args, Flags} from '@oclif/core'
import {BaseCommand} from '../cli/base-command.js'
import {humanSize} from '../cli/format.js'

export default class Rm extends BaseCommand {
  static override usage = 'rm [OPTIONS] IMAGE [IMAGE...]'
  static override summary = 'Remove images from the store.'
  static override description = `Removes the named references. Manifests, blobs and snapshots that nothing
references any more are deleted from disk and index, so the space comes back.
An image used by a running container is refused unless --force.`

  static override aliases = ['rmi']
  static override examples = ['<%= config.bin %> rm busybox', '<%= config.bin %> rm -f localhost:5000/app:1 3f2a9c41d2e0']

  static override strict = false
  static override args = {
    image: Args.string({description: 'image reference or ID', required: true}),
  }

  static override flags = {
    force: Flags.boolean({char: 'f', description: 'remove even if a running container uses the image'}),
    json: Flags.boolean({description: 'print what was removed as JSON'}),
  }

  async run(): Promise<void> {
    const {argv, flags} = await this.parse(Rm)
    const {removeImages} = await import('../service/remove.js')
    const result = await removeImages(await this.store(flags.root), argv as string[], {force: flags.force})

    if (flags.json) {
      this.log(JSON.stringify(result, null, 2))
      return
    }
    for (const name of result.untagged) this.log(`Untagged: ${name}`)
    for (const digest of result.deleted) this.log(`Deleted: ${digest}`)
    if (result.reclaimed > 0) this.log(`Reclaimed: ${humanSize(result.reclaimed)}`)
  }
}
