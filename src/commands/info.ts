import {Flags} from '@oclif/core'
import {BaseCommand} from '../cli/base-command.js'
import {humanSize} from '../cli/format.js'
import type {SystemInfo} from '../service/info.js'

export default class Info extends BaseCommand {
  static override summary = 'Show where the store is, what it holds and what the host provides.'
  static override description = `Prints the store directory and the bytes its blobs, snapshots, container
layers and index take; the snapshot kind in use (overlay: layers mounted with
overlayfs; flat: whole trees copied, for hosts where overlay whiteouts cannot be
made); image and container counts; the cgroup version and controllers; whether
mydocker runs rootless; and the mydocker, Node.js and kernel versions.`

  static override examples = ['<%= config.bin %> info', '<%= config.bin %> info --json', '<%= config.bin %> info --root /tmp/store']

  static override flags = {
    json: Flags.boolean({description: 'print the report as JSON'}),
  }

  async run(): Promise<void> {
    const {flags} = await this.parse(Info)
    const {systemInfo} = await import('../service/info.js')
    const info = await systemInfo(await this.store(flags.root))
    this.log(flags.json ? JSON.stringify(info, null, 2) : formatInfo(info))
  }
}

function formatInfo(info: SystemInfo): string {
  const usage = info.store.usage
  const cgroup = info.cgroup
  const cgroupVersion = cgroup.version === 1 && cgroup.hybrid ? '1 (hybrid: v2 mounted at /sys/fs/cgroup/unified)' : String(cgroup.version)
  return [
    `Store: ${info.store.root}`,
    ` Blobs: ${humanSize(usage.blobs)}`,
    ` Snapshots: ${humanSize(usage.snapshots)}`,
    ` Containers: ${humanSize(usage.containers)}`,
    ` Index: ${humanSize(usage.index)}`,
    `Snapshotter: ${info.snapshotter.default}${info.snapshotter.inUse.length > 0 ? ` (in use: ${info.snapshotter.inUse.join(', ')})` : ''}`,
    `Images: ${info.images.names} (${info.images.manifests} manifests)`,
    `Containers: ${info.containers.recorded} (running: ${info.containers.running})`,
    `Cgroup Version: ${cgroupVersion}`,
    `Cgroup Controllers: ${cgroup.controllers.join(' ') || 'none'}`,
    `Rootless: ${info.rootless}`,
    `mydocker Version: ${info.versions.mydocker}`,
    `Node.js Version: ${info.versions.node}`,
    `Kernel Version: ${info.versions.kernel}`,
  ].join('\n')
}
