import {Args} from '@oclif/core'
import {oclifFlags} from '../cli/oclif-flags.js'
import {PULL_FLAGS} from '../cli/pull-flags.js'
import {BaseCommand} from '../cli/base-command.js'

export default class Pull extends BaseCommand {
  static override usage = 'pull [OPTIONS] REFERENCE [REFERENCE...]'
  static override summary = 'Download images from a registry into the store.'
  static override description = `Resolves each reference to the manifest for this machine's platform (or --platform),
downloads its config and layers into the content store, verifying every digest, and
unpacks each layer once into a snapshot shared by every image that contains it.
An image already stored costs one manifest request. References are pulled
concurrently; the command fails if any of them failed, naming them.`

  static override examples = [
    '<%= config.bin %> pull busybox',
    '<%= config.bin %> pull --platform linux/arm64 docker.io/library/alpine:3.20',
    '<%= config.bin %> pull -q localhost:5000/app@sha256:<digest>',
    '<%= config.bin %> pull -f images.txt --json',
  ]

  static override strict = false
  static override args = {
    reference: Args.string({description: 'image reference, [registry/]name[:tag][@digest]'}),
  }

  static override flags = oclifFlags(PULL_FLAGS)

  async run(): Promise<void> {
    // bin/run.js normally takes `pull` down the fast path (cli/fast-entry.ts).
    const {argv, flags} = (await this.parse(Pull)) as unknown as {argv: string[]; flags: {root?: string; file?: string; platform?: string; quiet: boolean; json: boolean}}
    const {pullCommand} = await import('../cli/pull-runner.js')
    const store = await this.store(flags.root)
    process.exitCode = await pullCommand(store, {
      references: argv as string[],
      file: flags.file,
      platform: flags.platform,
      quiet: flags.quiet,
      json: flags.json,
      stdout: process.stdout,
      stderr: process.stderr,
    })
  }
}
