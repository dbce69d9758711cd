import {Args, Flags} from '@oclif/core'
import {BaseCommand} from '../cli/base-command.js'
import {reportError} from '../cli/report-error.js'
import {MydockerError} from '../errors.js'

export default class Stop extends BaseCommand {
  static override summary = 'Stop running containers.'
  static override description = `Sends each container's stop signal (the image's StopSignal, SIGTERM by default)
to its main process, waits up to --time seconds for it to end, then kills it
with SIGKILL. Prints each container as given once it has stopped. The
\`mydocker run\` of the container then exits with the command's status (143
after SIGTERM, 137 after SIGKILL, or whatever the command's handler chose).`

  static override examples = ['<%= config.bin %> stop web', '<%= config.bin %> stop -t 1 3f2a9c41d2e0 worker']

  static override strict = false
  static override args = {
    container: Args.string({description: 'container name or ID (or a unique ID prefix)', required: true}),
  }

  static override flags = {
    time: Flags.integer({char: 't', description: 'seconds to wait before killing the container (default: the run\'s --stop-timeout, 10)'}),
    signal: Flags.string({char: 's', description: 'signal to send instead of the image\'s StopSignal (SIGTERM, TERM or 15)'}),
  }

  async run(): Promise<void> {
    const {argv, flags} = await this.parse(Stop)
    const {stopContainer} = await import('../service/stop.js')
    const store = await this.store(flags.root)

    // As docker: every container is tried; a failure is reported and the status is 1.
    let failed = false
    for (const container of argv as string[]) {
      try {
        await stopContainer(store, container, {timeoutSeconds: flags.time, signal: flags.signal})
        this.log(container)
      } catch (error) {
        if (!(error instanceof MydockerError)) throw error
        reportError(error)
        failed = true
      }
    }
    if (failed) process.exitCode = 1
  }
}
