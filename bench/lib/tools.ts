// The two tools measured side by side, each with a store of its own per
// benchmark: mydocker (the built CLI in this checkout) and podman with runc.

/** A store directory and the commands to drive one tool against it. */
export interface Tool {
  name: string
  /** The argv (command first) of `TOOL SUBCOMMAND args...` against this store. */
  argv: (subcommand: string, args: string[]) => string[]
  /** Environment the commands need on top of this process's. */
  env: Record<string, string>
  /** Where the tool keeps images; removed by `reset`. */
  root: string
  /** Empties the store (for cold rounds). */
  reset: () => Promise<void>
}

/** bin/run.js of this checkout. */
export function mydockerBin(): string {
  return new URL('../../bin/run.js', import.meta.url).pathname
}

/**
 * mydocker with store `root`, passed as MYDOCKER_ROOT so every subcommand
 * sees it. `nodeArguments` go before bin/run.js, e.g. --cpu-prof.
 */
export function mydocker(root: string, nodeArguments: string[] = []): Tool {
  return {
    name: 'mydocker',
    root,
    env: {MYDOCKER_ROOT: root},
    argv: (subcommand, args) => [process.execPath, ...nodeArguments, mydockerBin(), subcommand, ...args],
    reset: () => emptyDirectory(root),
  }
}

/**
 * podman with its own graph root and run root under `root`, the overlay
 * driver, cgroupfs (cgroups v1 here, no systemd) and file events, so it
 * neither shares nor disturbs /var/lib/containers.
 */
export function podman(root: string): Tool {
  const global = [
    '--root', `${root}/storage`,
    '--runroot', `${root}/run`,
    '--storage-driver', 'overlay',
    '--cgroup-manager', 'cgroupfs',
    '--events-backend', 'file',
  ]
  return {
    name: 'podman',
    root,
    env: {},
    argv: (subcommand, args) => ['podman', ...global, subcommand, ...podmanFlags(subcommand), ...args],
    reset: async () => {
      const {execa} = await import('execa')
      // Unmounts what podman mounted before the files go.
      await execa('podman', [...global, 'system', 'reset', '--force'], {reject: false})
      await emptyDirectory(root)
    },
  }
}

/**
 * Flags podman needs on this machine: it cannot raise rlimits (no
 * CAP_SYS_RESOURCE), so runs keep the host's; loopback registries speak
 * plain HTTP.
 */
function podmanFlags(subcommand: string): string[] {
  if (subcommand === 'run') return ['--rm', '--runtime', 'runc', '--network', 'none', '--ulimit', 'host']
  if (subcommand === 'pull') return ['--quiet', '--tls-verify=false']
  return []
}

/** Runs `tool subcommand args...` once and resolves to its wall time in ms. */
export async function timeTool(tool: Tool, subcommand: string, args: string[]): Promise<number> {
  const {timeCommand} = await import('./measure.js')
  const [command, ...rest] = tool.argv(subcommand, args)
  return (await timeCommand(command!, rest, {env: tool.env})).milliseconds
}

/** Runs `tool subcommand args...` once, rejecting with its stderr on failure. */
export async function runTool(tool: Tool, subcommand: string, args: string[]): Promise<string> {
  const {timeCommand} = await import('./measure.js')
  const [command, ...rest] = tool.argv(subcommand, args)
  return (await timeCommand(command!, rest, {env: tool.env})).stdout
}

/** Removes everything in `directory` (and recreates it empty). */
export async function emptyDirectory(directory: string): Promise<void> {
  const {mkdir, rm} = await import('node:fs/promises')
  await rm(directory, {recursive: true, force: true, maxRetries: 3})
  await mkdir(directory, {recursive: true})
}

/** A fresh temporary directory named for the benchmark and tool. */
export async function temporaryRoot(label: string): Promise<string> {
  const {mkdtemp} = await import('node:fs/promises')
  const {tmpdir} = await import('node:os')
  const {join} = await import('node:path')
  return mkdtemp(join(tmpdir(), `mydocker-bench-${label}-`))
}
