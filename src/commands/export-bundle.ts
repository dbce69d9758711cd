import {Args, Flags} from '@oclif/core'
import {BaseCommand} from '../cli/base-command.js'

export default class ExportBundle extends BaseCommand {
  static override summary = 'Write an OCI runtime bundle (config.json and rootfs) for an image.'
  static override description = `Makes DIR a bundle that runc or any OCI runtime runs with
\`runc run --bundle DIR ID\`: DIR/rootfs is a copy of the image's layers merged as
overlayfs would show them (whiteouts delete, opaque directories hide what is
below), DIR/config.json runs the image's Entrypoint and Cmd (or COMMAND) with its
Env, WorkingDir and User, in new PID, mount, UTS and IPC namespaces, with Docker's
default capabilities, masked and read-only /proc and /sys paths, and /proc, /dev,
/dev/pts, /dev/shm, /dev/mqueue and /sys mounted. DIR must not exist or be empty.`

  static override examples = [
    '<%= config.bin %> export-bundle busybox ./bundle && runc run --bundle ./bundle demo',
    '<%= config.bin %> export-bundle --network none 127.0.0.1:5000/app:1 /tmp/app -- --port 80',
    '<%= config.bin %> export-bundle --entrypoint sh -u app busybox /tmp/b -- -c "id; pwd"',
  ]

  static override strict = false
  static override args = {
    image: Args.string({description: 'image reference or ID', required: true}),
    dir: Args.string({description: 'bundle directory to create', required: true}),
    command: Args.string({description: 'command and arguments (default: the image\'s Entrypoint and Cmd)'}),
  }

  static override flags = {
    entrypoint: Flags.string({description: 'override the image\'s entrypoint; an empty string clears it'}),
    user: Flags.string({char: 'u', description: 'user to run as: uid, uid:gid, name or name:group'}),
    workdir: Flags.string({char: 'w', description: 'working directory inside the container'}),
    env: Flags.string({char: 'e', multiple: true, description: 'add an environment variable, K=V'}),
    hostname: Flags.string({description: 'container host name (default mydocker)'}),
    network: Flags.string({description: 'network: host (default) or none', options: ['host', 'none'], default: 'host'}),
    'read-only': Flags.boolean({description: 'mount the root file system read-only'}),
    json: Flags.boolean({description: 'print the bundle\'s paths and config.json as JSON'}),
  }

  async run(): Promise<void> {
    const {argv, flags} = await this.parse(ExportBundle)
    const [image, dir, ...command] = argv as string[]
    const {imageProcessSpec, writeBundle} = await import('../bundle/index.js')
    const store = await this.store(flags.root)

    const process = imageProcessSpec(store, image, {
      args: command,
      entrypoint: flags.entrypoint,
      env: flags.env,
      workdir: flags.workdir,
      user: flags.user,
      hostname: flags.hostname,
    })
    const bundle = await writeBundle({
      store,
      image,
      dir,
      process,
      hostname: flags.hostname,
      network: flags.network as 'host' | 'none',
      readOnly: flags['read-only'],
    })
    if (flags.json) this.log(JSON.stringify(bundle, null, 2))
    else this.log(`Wrote bundle for ${bundle.image} to ${bundle.dir}`)
  }
}
