/**
 * The OCI runtime spec (runtime-spec v1.0, config.md and config-linux.md) of a
 * bundle: what runc or crun reads from config.json. Defaults follow Docker's:
 * its capability set, masked and read-only /proc and /sys paths, and the
 * /proc, /dev, /dev/pts, /dev/shm, /dev/mqueue and /sys mounts.
 */

/** The spec version written; runc 1.1 reads 1.0.x. */
export const OCI_VERSION = '1.0.2'

/** The capabilities Docker gives a container that asks for nothing else. */
export const DEFAULT_CAPABILITIES = [
  'CAP_CHOWN',
  'CAP_DAC_OVERRIDE',
  'CAP_FSETID',
  'CAP_FOWNER',
  'CAP_MKNOD',
  'CAP_NET_RAW',
  'CAP_SETGID',
  'CAP_SETUID',
  'CAP_SETFCAP',
  'CAP_SETPCAP',
  'CAP_NET_BIND_SERVICE',
  'CAP_SYS_CHROOT',
  'CAP_KILL',
  'CAP_AUDIT_WRITE',
]

/** Paths Docker hides (a /dev/null bind or an empty read-only tmpfs over them). */
export const MASKED_PATHS = [
  '/proc/asound',
  '/proc/acpi',
  '/proc/kcore',
  '/proc/keys',
  '/proc/latency_stats',
  '/proc/timer_list',
  '/proc/timer_stats',
  '/proc/sched_debug',
  '/proc/scsi',
  '/sys/firmware',
  '/sys/devices/virtual/powercap',
]

/** Paths Docker leaves visible but read-only. */
export const READONLY_PATHS = ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger']

/** The process part of a bundle; user already resolved to numbers. */
export interface BundleProcess {
  args: string[]
  env: string[]
  cwd: string
  uid: number
  gid: number
  additionalGids: number[]
  terminal: boolean
}

/** What runtimeSpec needs besides the process. */
export interface SpecOptions {
  process: BundleProcess
  hostname: string
  /** host shares the host's network namespace (mydocker's default); none gives an empty one. */
  network: 'host' | 'none'
  /** Mount the root file system read-only. */
  readOnly: boolean
}

/** A runtime-spec config.json document, as plain data. */
export type RuntimeSpec = Record<string, unknown>

/** Builds config.json for a bundle whose root file system is `rootfs/` beside it. */
export function runtimeSpec(options: SpecOptions): RuntimeSpec {
  const {process} = options
  const capabilities = [...DEFAULT_CAPABILITIES]
  return {
    ociVersion: OCI_VERSION,
    process: {
      terminal: process.terminal,
      user: {uid: process.uid, gid: process.gid, ...(process.additionalGids.length > 0 ? {additionalGids: process.additionalGids} : {})},
      args: process.args,
      env: process.env,
      cwd: process.cwd,
      capabilities: {bounding: capabilities, effective: capabilities, permitted: capabilities},
      noNewPrivileges: false,
    },
    root: {path: 'rootfs', readonly: options.readOnly},
    hostname: options.hostname,
    mounts: defaultMounts(),
    linux: {
      namespaces: namespaces(options.network),
      // Deny every device but the ones runc always creates (null, zero, full, tty, random, urandom, ptmx).
      resources: {devices: [{allow: false, access: 'rwm'}]},
      maskedPaths: MASKED_PATHS,
      readonlyPaths: READONLY_PATHS,
    },
  }
}

function namespaces(network: 'host' | 'none') {
  const types = ['pid', 'ipc', 'uts', 'mount', ...(network === 'none' ? ['network'] : [])]
  return types.map((type) => ({type}))
}

function defaultMounts() {
  return [
    {destination: '/proc', type: 'proc', source: 'proc', options: ['nosuid', 'noexec', 'nodev']},
    {destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k']},
    {
      destination: '/dev/pts',
      type: 'devpts',
      source: 'devpts',
      options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5'],
    },
    {destination: '/dev/shm', type: 'tmpfs', source: 'shm', options: ['nosuid', 'noexec', 'nodev', 'mode=1777', 'size=65536k']},
    {destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev']},
    {destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', 'ro']},
  ]
}
