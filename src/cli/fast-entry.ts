/**
 * The fast paths of `mydocker run` and `mydocker pull`, taken by bin/run.js
 * before oclif loads.
 *
 * oclif's start-up (its module graph, config and plugin loading) costs several
 * times a bare node start, and these are the commands scripts call thousands of
 * times. They are parsed here from the same flag tables their oclif classes are
 * built from; `--help` still goes through oclif. See docs/performance.md.
 */
import {constants} from 'node:os'
import type {SnapshotStore} from '../snapshot/store.js'
import type {RunFlags} from '../service/run.js'
import {parseFlagTable} from './flag-table.js'
import {PULL_FLAGS} from './pull-flags.js'
import {reportError} from './report-error.js'
import {runFlagShapes, splitRunArguments, splitRunCommandLine} from './run-argv.js'
import {RUN_FLAGS} from './run-flags.js'

/** True when `argv` (after the command) asks for help, which oclif renders. */
export function wantsHelp(command: string, argv: string[]): boolean {
  if (command === 'run') return splitRunArguments(argv, runFlagShapes()).flags.includes('--help')
  return argv.includes('--help')
}

/** Runs `mydocker COMMAND ARGV...`; sets process.exitCode, never throws. */
export async function runFast(command: string, argv: string[]): Promise<void> {
  // Should a bug ever leave the work waiting on nothing, node would empty its
  // loop and exit 0; say so and fail instead.
  let finished = false
  const stalled = () => {
    if (finished) return
    process.stderr.write(`mydocker: internal error: ${command} stopped before it finished\n`)
    process.exitCode = 125
  }
  process.once('beforeExit', stalled)
  try {
    if (command === 'run') await run(argv)
    else await pull(argv)
  } catch (error) {
    reportError(error as Error)
  } finally {
    finished = true
  }
}

async function run(argv: string[]): Promise<void> {
  const split = splitRunCommandLine(argv)
  const {flags} = parseFlagTable(RUN_FLAGS, split.flags, 'run')

  const {runContainer} = await import('../service/run.js')
  await withStore(flags.root as string | undefined, async (store) => {
    process.exitCode = await runContainer(store, {image: split.image, command: split.command, flags: flags as unknown as RunFlags})
  })
}

async function pull(argv: string[]): Promise<void> {
  const {flags, positionals} = parseFlagTable(PULL_FLAGS, argv, 'pull')
  const {pullCommand} = await import('./pull-runner.js')
  await withStore(flags.root as string | undefined, async (store) => {
    discardOwnBuildsOnSignal(store.snapshots)
    process.exitCode = await pullCommand(store, {
      references: positionals,
      file: flags.file as string | undefined,
      platform: flags.platform as string | undefined,
      quiet: flags.quiet as boolean,
      json: flags.json as boolean,
      stdout: process.stdout,
      stderr: process.stderr,
    })
  })
}

// The store is not closed: the process exits right after the command. Closing
// the last connection would checkpoint SQLite's write-ahead log into the index
// and delete it (two fsyncs, two unlinks), and the next command would create the
// log again; left open, the log is checkpointed by SQLite as it fills and by
// the close of every other command. Committed transactions are in the log
// either way.
async function withStore(root: string | undefined, work: (store: import('../store/store.js').Store) => Promise<void>): Promise<void> {
  const [{openStore}, {resolveStoreRoot}] = await Promise.all([import('../store/store.js'), import('../store/root.js')])
  await work(openStore(resolveStoreRoot(root)))
}

// Ctrl-C or a SIGTERM during a pull: remove the snapshots this process was
// building (tmp-PID-...), so nothing half-made is left; partial downloads stay in
// ingest/ for the next pull to resume, and locks go with the process.
function discardOwnBuildsOnSignal(snapshots: SnapshotStore): void {
  const discard = (signal: 'SIGINT' | 'SIGTERM') => {
    snapshots.discardOwnBuildsNow()
    process.stderr.write(`mydocker: pull interrupted by ${signal}\n`)
    process.exit(128 + constants.signals[signal])
  }
  process.once('SIGINT', () => discard('SIGINT'))
  process.once('SIGTERM', () => discard('SIGTERM'))
}
