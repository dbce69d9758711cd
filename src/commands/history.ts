import {Args, Flags} from '@oclif/core'
import {BaseCommand} from '../cli/base-command.js'
import {columns, humanAge, humanSize} from '../cli/format.js'
import type {HistoryRow} from '../service/inspect.js'

/** docker truncates CREATED BY to this many characters unless --no-trunc. */
const CREATED_BY_WIDTH = 45

export default class History extends BaseCommand {
  static override summary = 'Show how an image was built, newest step first.'
  static override description = `Lists the steps in the image config's history: when each was made, the
command that made it, the unpacked size of the layer it added (0B for a step
that added none) and its comment. An image whose config has no history shows one
row per layer with an empty CREATED BY.`

  static override examples = [
    '<%= config.bin %> history busybox',
    '<%= config.bin %> history --no-trunc 127.0.0.1:5000/app:1',
    '<%= config.bin %> history --json busybox',
  ]

  static override args = {
    image: Args.string({description: 'image reference or ID', required: true}),
  }

  static override flags = {
    'no-trunc': Flags.boolean({description: 'print the whole CREATED BY command'}),
    json: Flags.boolean({description: 'print the steps as JSON'}),
  }

  async run(): Promise<void> {
    const {args, flags} = await this.parse(History)
    const {imageHistory} = await import('../service/inspect.js')
    const rows = imageHistory(await this.store(flags.root), args.image)

    if (flags.json) {
      this.log(JSON.stringify(rows, null, 2))
      return
    }
    const cells = rows.map((row) => [
      humanAge(row.created),
      createdBy(row, flags['no-trunc']),
      humanSize(row.size),
      row.comment,
    ])
    this.log(await columns(['CREATED', 'CREATED BY', 'SIZE', 'COMMENT'], cells))
  }
}

function createdBy(row: HistoryRow, noTrunc: boolean): string {
  const text = row.createdBy.replace(/\s+/g, ' ')
  if (noTrunc || text.length <= CREATED_BY_WIDTH) return text
  return `${text.slice(0, CREATED_BY_WIDTH - 1)}…`
}
