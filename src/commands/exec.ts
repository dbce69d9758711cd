import {Args, Flags} from '@oclif/core'
import {BaseCommand} from '../cli/base-command.js'
import {flagShapes, splitRunArguments} from '../cli/run-argv.js'
import {invalidArgument} from '../errors.js'

export default class Exec extends BaseCommand {
  static override usage = 'exec [OPTIONS] CONTAINER COMMAND [ARG...]'
  static override summary = 'Run a command in a running container.'
  static override description = `Runs COMMAND inside the container's namespaces and root, with the container's
environment, user, working directory, capabilities and limits (what -e, -u and
-w do not change). Flags end at the container; the rest is the command. The exit
status is the command's (128+N when signal N killed it, 126 when it cannot be
executed, 127 when it is not found); signals sent to mydocker are passed on.`

  static override examples = [
    '<%= config.bin %> exec web ls -l /',
    '<%= config.bin %> exec -it web sh',
    '<%= config.bin %> exec -u 1000 -w /tmp -e DEBUG=1 3f2a9c41d2e0 env',
  ]

  // Flags end at the container; the rest is the command, split off before oclif parses.
  static override strict = false
  static override args = {
    container: Args.string({description: 'container name or ID (or a unique ID prefix)', required: true}),
    command: Args.string({description: 'command and arguments', required: true}),
  }

  static override flags = {
    interactive: Flags.boolean({char: 'i', description: 'keep stdin open: pass it to the command'}),
    tty: Flags.boolean({char: 't', description: 'run the command on a pseudo-terminal'}),
    user: Flags.string({char: 'u', description: 'user to run as: name|uid[:group|gid] (default: the container\'s)'}),
    workdir: Flags.string({char: 'w', description: 'working directory inside the container (default: the container\'s)'}),
    env: Flags.string({char: 'e', description: 'set an environment variable: KEY=VALUE, or KEY to pass mydocker\'s own', multiple: true, multipleNonGreedy: true}),
    'env-file': Flags.string({description: 'read environment variables from a file', multiple: true, multipleNonGreedy: true}),
  }

  async run(): Promise<void> {
    const split = splitRunArguments(this.argv, flagShapes({...BaseCommand.baseFlags, ...Exec.flags}))
    if (split.image === undefined || split.command.length === 0) {
      throw invalidArgument('"mydocker exec" requires at least 2 arguments: the container and the command', {
        hint: 'mydocker exec [OPTIONS] CONTAINER COMMAND [ARG...]',
      })
    }

    const {flags} = await this.parse(Exec, [...split.flags, split.image, split.command[0]])
    const {execInContainer} = await import('../service/exec.js')
    process.exitCode = await execInContainer(await this.store(flags.root), {
      container: split.image,
      command: split.command,
      interactive: flags.interactive,
      tty: flags.tty,
      user: flags.user,
      workdir: flags.workdir,
      env: flags.env,
      envFile: flags['env-file'],
    })
  }
}
