import {Args, Flags} from '@oclif/core'
import {BaseCommand} from '../cli/base-command.js'

export default class Inspect extends BaseCommand {
  static override summary = 'Show low-level information about images and containers, as JSON.'
  static override description = `Prints a JSON array with one object per image or container named. An image
object has docker's shape (Id, RepoTags, RepoDigests, Created, Architecture, Os,
Variant, Config with Cmd, Entrypoint, Env, WorkingDir, User and Labels, RootFS
with the layer diff IDs, Size) and a Mydocker section: the stored names, manifest
digest and media type, index digest, and each layer's blob digest, compressed
size, diff ID, chain ID and snapshot.

A name is looked up among running containers (by name or ID prefix) first, then
among images (by reference or image ID prefix). Exit status 1 when one of the
names matches nothing; nothing is printed then.`

  static override examples = [
    '<%= config.bin %> inspect busybox',
    '<%= config.bin %> inspect 127.0.0.1:5000/app:1 7e1471be12a4',
    '<%= config.bin %> inspect 3f2a9c41d2e0',
  ]

  static override strict = false
  static override args = {
    name: Args.string({description: 'image reference or ID, or container name or ID', required: true}),
  }

  static override flags = {
    json: Flags.boolean({description: 'print JSON (the default; accepted for symmetry with other commands)'}),
  }

  async run(): Promise<void> {
    const {argv, flags} = await this.parse(Inspect)
    const {inspectObjects} = await import('../service/inspect.js')
    const objects = inspectObjects(await this.store(flags.root), argv as string[])
    this.log(JSON.stringify(objects, null, 4))
  }
}
