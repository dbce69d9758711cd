import {Flags} from '@oclif/core'
import {BaseCommand} from '../cli/base-command.js'
import {shortId} from '../cli/format.js'
import {invalidArgument} from '../errors.js'

export default class Load extends BaseCommand {
  static override summary = 'Store the images of an OCI archive or a docker save archive.'
  static override description = `Reads an archive written by \`mydocker save\`, \`docker save\` or \`skopeo copy\`
(oci-archive: or docker-archive:), plain or compressed with gzip or zstd, and stores
its images as a pull would: every blob verified against its digest, every layer
unpacked and checked against the config's diff IDs, then each name recorded.

OCI archives name images with the io.containerd.image.name or
org.opencontainers.image.ref.name annotation (a full reference); docker archives
with RepoTags. An image without a name is reported and not stored.

Without -i the archive is read from stdin.`

  static override examples = [
    '<%= config.bin %> load -i busybox.tar',
    'gunzip -c app.tar.gz | <%= config.bin %> load',
    '<%= config.bin %> load -i docker-save.tar --json',
  ]

  static override flags = {
    input: Flags.string({char: 'i', description: 'read the archive from this file instead of stdin'}),
    quiet: Flags.boolean({char: 'q', description: 'print nothing but errors'}),
    json: Flags.boolean({description: 'print what was loaded as JSON'}),
  }

  async run(): Promise<void> {
    const {flags} = await this.parse(Load)
    if (flags.input === undefined && process.stdin.isTTY) {
      throw invalidArgument('no archive given: stdin is a terminal', {hint: 'use -i FILE or pipe the archive in'})
    }

    const {loadArchive} = await import('../archive/load.js')
    const result = await loadArchive(await this.store(flags.root), flags.input ?? process.stdin)
    if (flags.json) {
      this.log(JSON.stringify(result, null, 2))
      return
    }
    if (flags.quiet) return
    for (const image of result.images) this.log(`Loaded image: ${image.name}`)
    for (const id of result.unnamed) this.log(`Skipped image ID: ${shortId(id)} (the archive gives it no name)`)
  }
}
