#!/usr/bin/env node
// Builds mydocker: compiles src/ with tsc, compiles the native helpers in
// native/ with gcc (static, so they run inside any image), and refreshes
// oclif.manifest.json. Each step is skipped when its outputs are newer than its
// inputs, so `npm test` and `npm run demo` can call it every time.
import {execFileSync} from 'node:child_process'
import {existsSync, mkdirSync, readdirSync, statSync} from 'node:fs'
import {dirname, join} from 'node:path'
import {fileURLToPath} from 'node:url'

const top = join(dirname(fileURLToPath(import.meta.url)), '..')
const run = (command, args) => execFileSync(command, args, {cwd: top, stdio: 'inherit'})

function newestMtime(path) {
  if (!existsSync(path)) return 0
  const stat = statSync(path)
  if (!stat.isDirectory()) return stat.mtimeMs
  return Math.max(stat.mtimeMs, ...readdirSync(path).map((name) => newestMtime(join(path, name))))
}

const sourcesChanged = newestMtime(join(top, 'src')) > newestMtime(join(top, 'dist', '.built'))
if (sourcesChanged || process.argv.includes('--force')) {
  run(join(top, 'node_modules', '.bin', 'tsc'), ['-p', 'tsconfig.json'])
  run(process.execPath, ['-e', `require('node:fs').writeFileSync(${JSON.stringify(join(top, 'dist', '.built'))}, '')`])
  run(join(top, 'node_modules', '.bin', 'oclif'), ['manifest'])
}

// Each native/NAME.c becomes dist/native/NAME; native/*.h are shared by them.
mkdirSync(join(top, 'dist', 'native'), {recursive: true})
const nativeFiles = readdirSync(join(top, 'native'))
const headersMtime = Math.max(0, ...nativeFiles.filter((name) => name.endsWith('.h')).map((name) => newestMtime(join(top, 'native', name))))
for (const file of nativeFiles.filter((name) => name.endsWith('.c'))) {
  const source = join(top, 'native', file)
  const output = join(top, 'dist', 'native', file.slice(0, -2))
  if (newestMtime(output) >= Math.max(newestMtime(source), headersMtime)) continue
  run('gcc', ['-static', '-O2', '-Wall', '-Wextra', '-o', output, source])
}
