#!/usr/bin/env node
// Runs the test suite with node's test runner. Test files are TypeScript,
// loaded through tsx; every file under test/ named *.test.ts is a suite.
// Arguments narrow the run to files whose path contains one of them.
import {spawnSync} from 'node:child_process'
import {readdirSync} from 'node:fs'
import {dirname, join, relative} from 'node:path'
import {fileURLToPath} from 'node:url'

const top = join(dirname(fileURLToPath(import.meta.url)), '..')

function findTests(dir) {
  return readdirSync(dir, {withFileTypes: true}).flatMap((entry) => {
    const path = join(dir, entry.name)
    if (entry.isDirectory()) return entry.name === 'fixtures' ? [] : findTests(path)
    return entry.name.endsWith('.test.ts') ? [path] : []
  })
}

const filters = process.argv.slice(2)
const files = findTests(join(top, 'test'))
  .map((path) => relative(top, path))
  .filter((path) => filters.length === 0 || filters.some((filter) => path.includes(filter)))
  .sort()

const result = spawnSync(
  process.execPath,
  ['--import', 'tsx', '--test', '--test-concurrency=2', '--test-reporter=spec', ...files],
  {cwd: top, stdio: 'inherit'},
)
process.exit(result.status ?? 1)
