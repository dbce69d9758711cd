import {Flags} from '@oclif/core'
import {BaseCommand} from '../../cli/base-command.js'
import {columns, humanSize} from '../../cli/format.js'

const TYPE_NAMES = {
  images: 'Images',
  blobs: 'Blobs',
  snapshots: 'Snapshots',
  containers: 'Containers',
  ingests: 'Partial downloads',
  leftovers: 'Leftovers',
} as const

export default class SystemDf extends BaseCommand {
  static override summary = 'Show what the store uses.'
  static override description = `Shows, for images, blobs, snapshots (unpacked layers), containers, partial
downloads and leftovers of killed builds: how many there are, how many are in
use, the space they take and the space \`mydocker system prune\` would give back.`

  static override examples = ['<%= config.bin %> system df', '<%= config.bin %> system df --json']

  static override flags = {
    json: Flags.boolean({description: 'print the usage as JSON'}),
  }

  async run(): Promise<void> {
    const {flags} = await this.parse(SystemDf)
    const {storeUsage} = await import('../../service/system/df.js')
    const usage = await storeUsage(await this.store(flags.root))

    if (flags.json) {
      this.log(JSON.stringify(usage, null, 2))
      return
    }
    const rows = usage.rows.map((row) => [
      TYPE_NAMES[row.type],
      String(row.total),
      String(row.active),
      humanSize(row.size),
      humanSize(row.reclaimable),
    ])
    this.log(await columns(['TYPE', 'TOTAL', 'ACTIVE', 'SIZE', 'RECLAIMABLE'], rows))
  }
}
