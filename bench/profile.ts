// Profiles mydocker's hot paths with `node --cpu-prof`: a warm run of
// busybox true, a warm pull of a stored image and a cold pull of the
// single-layer Debian image. Writes the profiles under bench/profiles/KIND/,
// the modules each command loads (bench/profiles/KIND.imports.txt), and a
// summary (bench/profiles/summary.json) that bench/report.ts puts in the
// report; prints the top self-time rows.
// Usage: node --import tsx bench/profile.ts
import {summarizeProfiles, type ProfileSummary} from './lib/cpu-profile.js'
import {roundsFromEnvironment} from './lib/measure.js'
import {mydocker, runTool, temporaryRoot, type Tool} from './lib/tools.js'
import {startBenchRegistry} from './lib/images.js'

/** One profiled command: how to run it and what to do before each run. */
interface ProfiledCommand {
  kind: string
  subcommand: string
  args: string[]
  runs: number
  before?: () => Promise<void>
}

/** One cumulative stage of the warm run's start-up, timed without a profiler. */
export interface StartupStage {
  stage: string
  /** Median wall time of a process that goes up to and including this stage. */
  milliseconds: number
  /** The stage this one builds on (its cost is the difference); the row above when absent. */
  baseline?: string
}

/** What profile.ts saves for the report. */
export interface ProfileReport {
  finishedAt: string
  /** The warm run and warm pull cut into cumulative stages, each its own process, by command. */
  stages: Record<string, StartupStage[]>
  commands: Array<{kind: string; command: string; summary: ProfileSummary; imports: Record<string, number>}>
}

// 100 µs rather than the default 1 ms: a warm run lasts a few hundred ms.
const samplingIntervalMicroseconds = 100

async function main(): Promise<void> {
  const {rm} = await import('node:fs/promises')
  const rounds = roundsFromEnvironment(5)
  const {registry, images} = await startBenchRegistry(['busybox', 'debianSingle'])
  const root = await temporaryRoot('profile-mydocker')
  const plain = mydocker(root)

  try {
    await runTool(plain, 'pull', [images.busybox])
    await runTool(plain, 'run', [images.busybox, 'true'])
    const commands: ProfiledCommand[] = [
      {kind: 'run', subcommand: 'run', args: [images.busybox, 'true'], runs: rounds},
      {kind: 'pull-warm', subcommand: 'pull', args: [images.busybox], runs: rounds},
      {
        kind: 'pull-cold',
        subcommand: 'pull',
        args: [images.debianSingle],
        runs: Math.max(1, Math.ceil(rounds / 2)),
        before: () => removeImage(plain, images.debianSingle),
      },
    ]

    const stages = await timeStages(await stagesOf(root, images), root, rounds * 2)
    const report: ProfileReport = {finishedAt: new Date().toISOString(), stages, commands: []}
    for (const command of commands) {
      const summary = await profile(root, command)
      const imports = await traceImports(root, command)
      report.commands.push({kind: command.kind, command: `mydocker ${command.subcommand} ${command.args.join(' ')}`, summary, imports})
      print(command.kind, summary, imports)
    }
    for (const [kind, list] of Object.entries(stages)) {
      for (const stage of list) console.log(`${kind} stages: ${stage.milliseconds.toFixed(1).padStart(7)} ms  up to: ${stage.stage}`)
    }
    await saveReport(report)
  } finally {
    await rm(root, {recursive: true, force: true})
    await registry.remove()
  }
}

/** A process that stops after one stage of a command. */
interface Stage {
  stage: string
  argv: string[]
  /** The stage this one adds to; the one listed before it when absent. */
  baseline?: string
}

/**
 * The warm run and the warm pull cut into stages: processes that stop after
 * a bare node start, after loading the command's bundle as bin/run.js does,
 * and the whole command. Differences between rows are what each stage costs.
 */
async function stagesOf(root: string, images: {busybox: string}): Promise<Record<string, Stage[]>> {
  // What bin/run.js does before it hands over to the fast path: CommonJS, no ES module loader.
  const dist = new URL('../dist/', import.meta.url).pathname
  const loadBundle = (command: string) => [
    process.execPath,
    '-e',
    `require(${JSON.stringify(`${dist}cli/load-bundle.cjs`)}).loadBundle(${JSON.stringify(`${dist}fast/${command}.cjs`)})`,
  ]
  return {
    run: [
      {stage: 'node -e 0', argv: [process.execPath, '-e', '0']},
      {stage: 'load the run bundle from its code cache', argv: loadBundle('run'), baseline: 'node -e 0'},
      {stage: 'whole run: open the store, find the image, start and wait for the container', argv: mydocker(root).argv('run', [images.busybox, 'true'])},
    ],
    'pull-warm': [
      {stage: 'node -e 0', argv: [process.execPath, '-e', '0']},
      {stage: 'load the pull bundle (got inside) from its code cache', argv: loadBundle('pull')},
      {stage: 'whole warm pull (one HEAD)', argv: mydocker(root).argv('pull', [images.busybox])},
      {stage: 'for comparison: oclif start-up (mydocker --version)', argv: mydocker(root).argv('--version', []), baseline: 'node -e 0'},
    ],
  }
}

/** Times every stage of every command, alternating, median of `rounds` each. */
async function timeStages(stages: Record<string, Stage[]>, root: string, rounds: number): Promise<Record<string, StartupStage[]>> {
  const {alternate, median, timeCommand} = await import('./lib/measure.js')
  const env = {MYDOCKER_ROOT: root}
  const result: Record<string, StartupStage[]> = {}
  for (const [kind, list] of Object.entries(stages)) {
    console.error(`profile: stages of ${kind}`)
    const samples = await alternate(
      list.map(({stage, argv}) => ({name: stage, round: async () => (await timeCommand(argv[0]!, argv.slice(1), {env})).milliseconds})),
      rounds,
    )
    result[kind] = list.map(({stage, baseline}) => ({stage, baseline, milliseconds: median(samples[stage]!)}))
  }
  return result
}

/** Removes the image when stored, so the next pull is cold (blobs included). */
async function removeImage(tool: Tool, image: string): Promise<void> {
  const {timeCommand} = await import('./lib/measure.js')
  const [command, ...args] = tool.argv('rm', [image])
  await timeCommand(command!, args, {env: tool.env, check: false})
}

/** Runs the command `runs` times under --cpu-prof and summarizes the profiles. */
async function profile(root: string, command: ProfiledCommand): Promise<ProfileSummary> {
  const {join} = await import('node:path')
  const {emptyDirectory} = await import('./lib/tools.js')

  const directory = join(await profilesDirectory(), command.kind)
  await emptyDirectory(directory)
  const profiled = mydocker(root, ['--cpu-prof', `--cpu-prof-dir=${directory}`, `--cpu-prof-interval=${samplingIntervalMicroseconds}`])
  for (let run = 0; run < command.runs; run++) {
    await command.before?.()
    await runTool(profiled, command.subcommand, command.args)
  }
  return summarizeProfiles(directory)
}

/**
 * Runs the command once with the import tracer preloaded and counts the
 * files it loaded per package (or "dist" for mydocker's own).
 */
async function traceImports(root: string, command: ProfiledCommand): Promise<Record<string, number>> {
  const {readFile, writeFile, rm} = await import('node:fs/promises')
  const {join} = await import('node:path')
  const {timeCommand} = await import('./lib/measure.js')

  const tracer = new URL('./lib/import-trace.mjs', import.meta.url).pathname
  const traceFile = join(await profilesDirectory(), `${command.kind}.imports.txt`)
  await rm(traceFile, {force: true})
  await command.before?.()
  const traced = mydocker(root, ['--import', tracer])
  const [program, ...args] = traced.argv(command.subcommand, command.args)
  await timeCommand(program!, args, {env: {...traced.env, BENCH_IMPORT_TRACE: traceFile}})

  const files = [...new Set((await readFile(traceFile, 'utf8')).trim().split('\n').map((line) => line.slice(4)))].sort()
  await writeFile(traceFile, files.join('\n') + '\n')
  const counts: Record<string, number> = {}
  for (const file of files) {
    const match = /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(file)
    const group = match ? match[1]! : file.includes('/dist/') ? 'dist (mydocker)' : 'other'
    counts[group] = (counts[group] ?? 0) + 1
  }
  return Object.fromEntries(Object.entries(counts).sort((a, b) => b[1] - a[1]))
}

async function profilesDirectory(): Promise<string> {
  const {fileURLToPath} = await import('node:url')
  return fileURLToPath(new URL('./profiles/', import.meta.url))
}

async function saveReport(report: ProfileReport): Promise<void> {
  const {mkdir, writeFile} = await import('node:fs/promises')
  const {join} = await import('node:path')
  const directory = await profilesDirectory()
  await mkdir(directory, {recursive: true})
  await writeFile(join(directory, 'summary.json'), JSON.stringify(report, null, 2) + '\n')
}

function print(kind: string, summary: ProfileSummary, imports: Record<string, number>): void {
  const table = (title: string, rows: ProfileSummary['selfByModule']) => {
    console.log(`  ${title}`)
    for (const row of rows) console.log(`    ${row.milliseconds.toFixed(1).padStart(8)} ms ${(row.share * 100).toFixed(1).padStart(5)}%  ${row.name}`)
  }
  console.log(`${kind}: ${summary.profiles} profiles, ${summary.milliseconds.toFixed(1)} ms each on average`)
  table('self time by module', summary.selfByModule)
  table('self time by function', summary.selfByFunction)
  table('inclusive time of mydocker functions', summary.inclusiveOwn)
  const total = Object.values(imports).reduce((sum, count) => sum + count, 0)
  console.log(`  files loaded: ${total} (${Object.entries(imports).slice(0, 12).map(([group, count]) => `${group} ${count}`).join(', ')})`)
}

await main()
