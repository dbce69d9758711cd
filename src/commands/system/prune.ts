import {Flags} from '@oclif/core'
import {BaseCommand} from '../../cli/base-command.js'
import {humanSize} from '../../cli/format.js'

export default class SystemPrune extends BaseCommand {
  static override summary = 'Remove leftovers of killed commands and everything no image uses.'
  static override description = `Removes what runs whose mydocker process was killed left behind (directories,
mounts, cgroups), partial downloads no pull is resuming, snapshots being built by
processes that are gone, files the index does not know, and every manifest, blob
and snapshot that no image name and no running container refers to.
Work in progress of other mydocker processes is left alone.`

  static override examples = ['<%= config.bin %> system prune', '<%= config.bin %> system prune --json']

  static override flags = {
    json: Flags.boolean({description: 'print what was removed as JSON'}),
  }

  async run(): Promise<void> {
    const {flags} = await this.parse(SystemPrune)
    const {pruneStore} = await import('../../service/system/prune.js')
    const result = await pruneStore(await this.store(flags.root))

    if (flags.json) {
      this.log(JSON.stringify(result, null, 2))
      return
    }
    for (const id of result.containers) this.log(`Removed container: ${id.slice(0, 12)}`)
    for (const point of result.mounts) this.log(`Unmounted: ${point}`)
    for (const path of result.cgroups) this.log(`Removed cgroup: ${path}`)
    for (const file of result.ingests) this.log(`Removed partial download: ${file}`)
    for (const name of result.snapshotDirectories) this.log(`Removed snapshot directory: ${name}`)
    for (const digest of [...result.unrecordedBlobs, ...result.blobs]) this.log(`Deleted: ${digest}`)
    for (const chainId of result.snapshots) this.log(`Deleted snapshot: ${chainId}`)
    this.log(`Total reclaimed space: ${humanSize(result.reclaimed)}`)
  }
}
