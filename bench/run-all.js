#!/usr/bin/env node
// `npm run bench`: installs podman and runc when missing, runs every
// benchmark in bench/ one after another (each alternates mydocker and podman
// over several rounds and saves bench/results/NAME.json), profiles the hot
// paths, and writes docs/performance.md from what they saved.
// `node bench/run-all.js run-warm disk` runs only those, keeping the other
// saved results for the report. A benchmark that crashes is reported and the
// rest still run; a missed goal is not a failure.
// Plain JS so it runs before anything is compiled.
import {spawnSync} from 'node:child_process'
import {rmSync} from 'node:fs'
import {dirname, join} from 'node:path'
import {fileURLToPath} from 'node:url'

const benchDirectory = dirname(fileURLToPath(import.meta.url))
const top = join(benchDirectory, '..')

/** Every benchmark, in the order they run; "profile" writes bench/profiles/. */
const BENCHMARKS = ['run-warm', 'pull-warm', 'pull-cold', 'pull-memory', 'disk', 'profile']

function run(command, args) {
  const result = spawnSync(command, args, {cwd: top, stdio: 'inherit'})
  return result.status === 0
}

function main() {
  const asked = process.argv.slice(2)
  const unknown = asked.filter((name) => !BENCHMARKS.includes(name))
  if (unknown.length > 0) {
    console.error(`bench: unknown benchmark ${unknown.map((name) => `"${name}"`).join(', ')}; known: ${BENCHMARKS.join(', ')}`)
    process.exit(2)
  }
  const selected = asked.length > 0 ? asked : BENCHMARKS

  if (!run('sh', [join(top, 'scripts', 'install-podman.sh')])) {
    console.error('bench: podman and runc could not be set up; see scripts/install-podman.sh')
    process.exit(1)
  }

  const crashed = []
  for (const name of selected) {
    // A stale result must not stand in for a run that crashed this time.
    rmSync(join(benchDirectory, 'results', `${name}.json`), {force: true})
    console.error(`\n== bench/${name}.ts`)
    if (!run(process.execPath, ['--import', 'tsx', join(benchDirectory, `${name}.ts`)])) crashed.push(name)
  }

  console.error('\n== bench/report.ts')
  if (!run(process.execPath, ['--import', 'tsx', join(benchDirectory, 'report.ts')])) crashed.push('report')

  if (crashed.length > 0) {
    console.error(`bench: ${crashed.join(', ')} failed to run; their figures are missing from the report`)
    process.exit(1)
  }
}

main()
