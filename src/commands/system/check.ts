import {Flags} from '@oclif/core'
import {BaseCommand} from '../../cli/base-command.js'

export default class SystemCheck extends BaseCommand {
  static override summary = 'Verify the store: every blob re-hashed, every index row against its file.'
  static override description = `Re-hashes every blob, checks that every row of the index has its file and every
file its row, and that every snapshot is complete (its row and its directory).
Each problem is printed with what to do about it; the command exits with 1 when
it found one. With --repair, what is broken is removed, so that the next pull
fetches it again (the images that needed a damaged blob are named).`

  static override examples = ['<%= config.bin %> system check', '<%= config.bin %> system check --repair', '<%= config.bin %> system check --json']

  static override flags = {
    repair: Flags.boolean({description: 'remove what is broken so the next pull fetches it again'}),
    json: Flags.boolean({description: 'print the report as JSON'}),
  }

  async run(): Promise<void> {
    const {flags} = await this.parse(SystemCheck)
    const {checkStore} = await import('../../service/system/check.js')
    const report = await checkStore(await this.store(flags.root), {repair: flags.repair})
    const unrepaired = report.problems.filter((problem) => !problem.repaired)
    process.exitCode = unrepaired.length > 0 ? 1 : 0

    if (flags.json) {
      this.log(JSON.stringify(report, null, 2))
      return
    }
    for (const problem of report.problems) {
      this.log(`${problem.repaired ? 'repaired' : 'problem'}: ${problem.message}`)
      this.log(`  ${problem.repaired ? 'done' : 'to do'}: ${problem.action}`)
    }
    const found = report.problems.length === 0 ? 'no problems' : `${report.problems.length} problem${report.problems.length === 1 ? '' : 's'}`
    const repaired = report.problems.length - unrepaired.length
    this.log(`checked ${report.blobs} blobs and ${report.snapshots} snapshots: ${found}${repaired > 0 ? `, ${repaired} repaired` : ''}`)
  }
}
