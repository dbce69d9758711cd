import {Args, Flags} from '@oclif/core'
import {BaseCommand} from '../cli/base-command.js'
import {flagShapes, splitRunArguments} from '../cli/run-argv.js'
import {invalidArgument} from '../errors.js'

export default class Run extends BaseCommand {
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

  static override flags = {
    env: Flags.string({char: 'e', multiple: true, description: 'set an environment variable, K=V, or K to pass the caller\'s'}),
    'env-file': Flags.string({multiple: true, description: 'read environment variables from a file, one K=V per line'}),
    workdir: Flags.string({char: 'w', description: 'working directory inside the container (created when missing)'}),
    entrypoint: Flags.string({description: 'override the image\'s entrypoint; an empty string clears it'}),
    hostname: Flags.string({char: 'h', description: 'container host name'}),
    user: Flags.string({char: 'u', description: 'user to run as: uid, uid:gid, name or name:group'}),
    interactive: Flags.boolean({char: 'i', description: 'keep stdin open'}),
    tty: Flags.boolean({char: 't', description: 'allocate a pseudo-terminal'}),
    volume: Flags.string({char: 'v', multiple: true, description: 'bind mount HOST:CONTAINER[:ro]'}),
    tmpfs: Flags.string({multiple: true, description: 'mount a tmpfs at PATH'}),
    'read-only': Flags.boolean({description: 'mount the container\'s root read-only'}),
    network: Flags.string({description: 'network: host (default) or none', options: ['host', 'none'], default: 'host'}),
    memory: Flags.string({char: 'm', description: 'memory limit, e.g. 64m, 1g'}),
    'memory-swap': Flags.string({description: 'memory plus swap limit; -1 for unlimited swap'}),
    'pids-limit': Flags.integer({description: 'maximum number of processes'}),
    cpus: Flags.string({description: 'number of CPUs, e.g. 0.5'}),
    name: Flags.string({description: 'name the container'}),
    pull: Flags.string({description: 'pull policy', options: ['missing', 'always', 'never'], default: 'missing'}),
    platform: Flags.string({description: 'platform to pull if the image is missing, os/arch[/variant]'}),
    rm: Flags.boolean({description: 'remove the container when it exits (always the case)'}),
    init: Flags.boolean({description: 'run an init as PID 1 that forwards signals and reaps zombies'}),
    'cap-add': Flags.string({multiple: true, description: 'add a Linux capability (or ALL)'}),
    'cap-drop': Flags.string({multiple: true, description: 'drop a Linux capability (or ALL)'}),
    privileged: Flags.boolean({description: 'give the container every capability and no masked paths'}),
    'stop-timeout': Flags.integer({description: 'seconds to wait after SIGTERM before SIGKILL', default: 10}),
    runtime: Flags.string({description: 'runtime: builtin (default) or runc', options: ['builtin', 'runc'], default: 'builtin'}),
  }

  async run(): Promise<void> {
    const split = splitRunArguments(this.argv, flagShapes(Run.flags))
    if (split.image === undefined) {
      throw invalidArgument('"mydocker run" requires at least 1 argument: the image', {
        hint: 'mydocker run [OPTIONS] IMAGE [COMMAND [ARG...]]',
      })
    }

    const {flags} = await this.parse(Run, [...split.flags, split.image])
    const {runContainer} = await import('../service/run.js')
    process.exitCode = await runContainer(await this.store(flags.root), {
      image: split.image,
      command: split.command,
      flags,
    })
  }
}
