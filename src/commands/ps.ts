import {Flags} from '@oclif/core'
import {BaseCommand} from '../cli/base-command.js'
import {columns, humanAge} from '../cli/format.js'
import type {ContainerListing} from '../service/ps.js'

export default class Ps extends BaseCommand {
  static override summary = 'List containers.'
  static override description = `Shows the running containers, newest first: ID, image, command, when it was
created, status and name. With -a also the records of runs that died without
cleaning up (the next run or \`mydocker system prune\` removes them).`

  static override examples = ['<%= config.bin %> ps', '<%= config.bin %> ps -q', '<%= config.bin %> ps -a --no-trunc', '<%= config.bin %> ps --json']

  static override flags = {
    all: Flags.boolean({char: 'a', description: 'also show records of runs that are no longer running'}),
    quiet: Flags.boolean({char: 'q', description: 'print only container IDs'}),
    json: Flags.boolean({description: 'print the list as JSON'}),
    'no-trunc': Flags.boolean({description: 'print full IDs and commands'}),
  }

  async run(): Promise<void> {
    const {flags} = await this.parse(Ps)
    const {listContainers} = await import('../service/ps.js')
    const containers = listContainers(await this.store(flags.root), {all: flags.all})
    const noTrunc = flags['no-trunc']

    if (flags.json) {
      this.log(JSON.stringify(containers, null, 2))
      return
    }
    if (flags.quiet) {
      for (const container of containers) this.log(containerId(container, noTrunc))
      return
    }
    const rows = containers.map((container) => [
      containerId(container, noTrunc),
      container.image,
      commandColumn(container.command, noTrunc),
      humanAge(container.created),
      status(container),
      container.name,
    ])
    this.log(await columns(['CONTAINER ID', 'IMAGE', 'COMMAND', 'CREATED', 'STATUS', 'NAMES'], rows))
  }
}

function containerId(container: ContainerListing, noTrunc: boolean): string {
  return noTrunc ? container.id : container.id.slice(0, 12)
}

// docker quotes the command and cuts it to 20 characters, the last one '…'.
function commandColumn(command: string[], noTrunc: boolean): string {
  const text = command.join(' ')
  const shown = !noTrunc && [...text].length > 20 ? `${[...text].slice(0, 19).join('')}…` : text
  return `"${shown}"`
}

function status(container: ContainerListing): string {
  if (!container.running) return 'Dead'
  return `Up ${humanAge(container.created).replace(/ ago$/, '')}`
}
