import {Args, Flags} from '@oclif/core'
import {BaseCommand} from '../cli/base-command.js'
import {humanSize} from '../cli/format.js'
import {invalidArgument} from '../errors.js'

export default class Save extends BaseCommand {
  static override summary = 'Write images to an OCI archive.'
  static override description = `Writes the named images as one tar archive of an OCI image layout: oci-layout,
index.json naming each image (org.opencontainers.image.ref.name and
io.containerd.image.name hold the full stored name, e.g.
127.0.0.1:5000/busybox:latest), the manifests, configs and layers byte for byte as
stored, and a docker-style manifest.json. Read it back with \`mydocker load\`, or
with skopeo (oci-archive:FILE:NAME) and umoci after unpacking it.

Without -o the archive goes to stdout, which must not be a terminal. With -o the
file appears only once it is complete.`

  static override examples = [
    '<%= config.bin %> save busybox -o busybox.tar',
    '<%= config.bin %> save 127.0.0.1:5000/app:1 127.0.0.1:5000/app:2 -o app.tar',
    '<%= config.bin %> save busybox | gzip > busybox.tar.gz',
  ]

  static override strict = false
  static override args = {
    image: Args.string({description: 'image reference or ID', required: true}),
  }

  static override flags = {
    output: Flags.string({char: 'o', description: 'write the archive to this file instead of stdout'}),
    json: Flags.boolean({description: 'print what was saved as JSON (needs -o)'}),
  }

  async run(): Promise<void> {
    const {argv, flags} = await this.parse(Save)
    if (flags.output === undefined && process.stdout.isTTY) {
      throw invalidArgument('refusing to write an archive to a terminal', {hint: 'use -o FILE or redirect stdout'})
    }
    if (flags.output === undefined && flags.json) {
      throw invalidArgument('--json needs -o: stdout carries the archive', {hint: 'use -o FILE --json'})
    }

    const {saveImages} = await import('../archive/save.js')
    const result = await saveImages(await this.store(flags.root), argv as string[], flags.output ?? process.stdout)
    if (flags.output === undefined) return
    if (flags.json) this.log(JSON.stringify({...result, file: flags.output}, null, 2))
    else this.log(`Saved ${result.names.join(', ')} to ${flags.output} (${result.blobs} blobs, ${humanSize(result.bytes)})`)
  }
}
