import {Args} from '@oclif/core'
import {oclifFlags} from '../cli/oclif-flags.js'
import {RUN_FLAGS} from '../cli/run-flags.js'
import {BaseCommand} from '../cli/base-command.js'
import {splitRunCommandLine} from '../cli/run-argv.js'
import type {RunFlags} from '../service/run.js'

export default class Run extends BaseCommand {
  static override usage = 'run [OPTIONS] IMAGE [COMMAND] [ARG...]'
  static override summary = 'Run a command in a new container.'
  static override description = `Starts IMAGE's command (or COMMAND) in its own PID, mount, UTS and IPC namespaces,
on an overlay of the image's snapshots with a fresh writable layer that is discarded
when the command ends. The command's stdout, stderr and exit status are passed
through untouched. An image not in the store is pulled first; a stored image is
used without any network request.

Exit status: the command's own; 125 when mydocker fails; 126 when the command
cannot be run; 127 when it is not found; 128+N when it dies from signal N.`

  static override examples = [
    '<%= config.bin %> run busybox echo hello',
    '<%= config.bin %> run -it debian:bookworm bash',
    '<%= config.bin %> run -e NAME=value -w /srv -u 1000:1000 alpine sh -c "id; pwd"',
    '<%= config.bin %> run --network none --memory 64m --pids-limit 50 busybox sh',
  ]

  // Flags end at the image; the rest is the command, split off before oclif parses.
  static override strict = false
  static override args = {
    image: Args.string({description: 'image to run', required: true}),
    command: Args.string({description: 'command and arguments (default: the image\'s Entrypoint and Cmd)'}),
  }

  static override flags = oclifFlags(RUN_FLAGS)

  async run(): Promise<void> {
    // bin/run.js takes `run` down the fast path (cli/fast-entry.ts) and brings
    // only --help here; this is the path when the command is run through oclif.
    const split = splitRunCommandLine(this.argv)

    const {flags} = (await this.parse(Run, [...split.flags, split.image])) as unknown as {flags: RunFlags & {root?: string}}
    const {runContainer} = await import('../service/run.js')
    process.exitCode = await runContainer(await this.store(flags.root), {
      image: split.image,
      command: split.command,
      flags,
    })
  }
}
