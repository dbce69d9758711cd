#!/usr/bin/env node
// Builds mydocker: compiles src/ with tsc, bundles the fast paths of `run` and
// `pull` with esbuild, compiles the native helpers in native/ with gcc (static,
// so they run inside any image), and refreshes oclif.manifest.json. Each step is skipped when its outputs are newer than its
// inputs, so `npm test` and `npm run demo` can call it every time.
import {execFileSync} from 'node:child_process'
import {existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync} from 'node:fs'
import {dirname, join} from 'node:path'
import {fileURLToPath} from 'node:url'

const top = join(dirname(fileURLToPath(import.meta.url)), '..')
const run = (command, args, env = {}) => execFileSync(command, args, {cwd: top, stdio: 'inherit', env: {...process.env, ...env}})

function newestMtime(path) {
  if (!existsSync(path)) return 0
  const stat = statSync(path)
  if (!stat.isDirectory()) return stat.mtimeMs
  return Math.max(stat.mtimeMs, ...readdirSync(path).map((name) => newestMtime(join(path, name))))
}

const sourcesChanged = newestMtime(join(top, 'src')) > newestMtime(join(top, 'dist', '.built'))
if (sourcesChanged || process.argv.includes('--force') || !existsSync(join(top, 'dist', 'fast'))) {
  run(join(top, 'node_modules', '.bin', 'tsc'), ['-p', 'tsconfig.json'])
  await bundleFastPaths()
  writeFileSync(join(top, 'dist', '.built'), '')
  // The oclif developer CLI would otherwise look up its own newer versions online.
  run(join(top, 'node_modules', '.bin', 'oclif'), ['manifest'], {OCLIF_SKIP_NEW_VERSION_CHECK: 'true'})
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

/**
 * Bundles the fast paths of `run` and `pull` (dist/cli/fast-entry.js and all of
 * mydocker it reaches) into dist/fast/COMMAND.cjs, which bin/run.js loads through
 * src/cli/load-bundle.cts with V8's code cache (written here, beside each bundle).
 * node 20's ES module loader costs about a millisecond per module and a warm run
 * reaches some forty; one CommonJS file also defers each module's own imports to
 * the first call that needs it. Packages stay in node_modules and are imported
 * when a slower path needs them (tar to unpack, node-pty for -t, ...), except
 * better-sqlite3's JavaScript, which every run opens, and, for `pull`, got and
 * hpagent, whose sixty modules would otherwise be most of a warm pull, p-limit,
 * whose import would start the ES module loader for one small module, and
 * cli-progress.
 */
async function bundleFastPaths() {
  const {build} = await import('esbuild')
  const {dependencies} = JSON.parse(readFileSync(join(top, 'package.json'), 'utf8'))
  const carried = {run: ['better-sqlite3'], pull: ['better-sqlite3', 'got', 'hpagent', 'p-limit', 'cli-progress']}
  for (const [command, packages] of Object.entries(carried)) {
    const bundle = join(top, 'dist', 'fast', `${command}.cjs`)
    const result = await build({
      entryPoints: [join(top, 'dist', 'cli', 'fast-entry.js')],
      outfile: bundle,
      bundle: true,
      format: 'cjs',
      platform: 'node',
      target: 'node20',
      // `bindings` is better-sqlite3's addon finder, unused: the store names its addon.
      external: [...Object.keys(dependencies).filter((name) => !packages.includes(name)), 'bindings'],
      // Modules find the store schema and the native helpers from their own URL;
      // dist/fast/ sits as deep under the top as every dist/DIR/, so the URL of the
      // bundle resolves the same relative paths.
      define: {'import.meta.url': '__bundleUrl'},
      banner: {js: "const __bundleUrl = require('node:url').pathToFileURL(__filename).href;"},
      plugins: [lazyListFormats()],
      metafile: true,
      write: false,
      logLevel: 'warning',
    })
    mkdirSync(dirname(bundle), {recursive: true})
    writeFileSync(bundle, routeDynamicImports(result, bundle))
    // In a child process: the cache must be V8's code for the bundle as node runs it.
    const loader = join(top, 'dist', 'cli', 'load-bundle.cjs')
    run(process.execPath, ['-e', `require(${JSON.stringify(loader)}).writeCodeCache(${JSON.stringify(bundle)})`])
  }
}

// @sindresorhus/is, got's type checks, builds two Intl.ListFormat objects as it
// loads, for the wording of its assertion errors: that starts ICU, 15 to 20 ms
// of every pull. In the bundle each is built when a message needs it. A new
// version that words them otherwise fails the build here rather than going slow.
function lazyListFormats() {
  return {
    name: 'lazy-list-formats',
    setup(build) {
      build.onLoad({filter: /[\\/]@sindresorhus[\\/]is[\\/]distribution[\\/]index\.js$/}, ({path}) => {
        const source = readFileSync(path, 'utf8')
        const eager = /^const (andFormatter|orFormatter) = new Intl\.ListFormat\(([^;\n]*)\);$/gm
        const lazy = source.replace(eager, (line, name, options) => `const ${name} = {format: (list) => new Intl.ListFormat(${options}).format(list)};`)
        if (lazy === source) throw new Error(`${path}: its Intl.ListFormat objects are no longer where the build expects them`)
        return {contents: lazy, loader: 'js'}
      })
    },
  }
}

// What esbuild leaves as import() in a bundle are the imports of packages and
// node built-ins it did not carry. Code restored from V8's cache cannot run
// import() itself (node loses the callback it needs), so each becomes a call of
// the __bundleImport that load-bundle passes in. Only specifiers esbuild lists as
// external dynamic imports are rewritten, and an import() left over fails the build.
function routeDynamicImports(result, bundle) {
  const output = result.outputFiles.find((file) => file.path === bundle)
  const externals = new Set(
    Object.values(result.metafile.inputs)
      .flatMap((input) => input.imports)
      .filter((entry) => entry.kind === 'dynamic-import' && entry.external)
      .map((entry) => entry.path),
  )
  const text = output.text.replace(/\bimport\("([^"]+)"\)/g, (call, specifier) =>
    externals.has(specifier) ? `__bundleImport(${JSON.stringify(specifier)})` : call,
  )
  const left = /\bimport\([^)]*\)/.exec(text)
  if (left) throw new Error(`${bundle}: ${left[0]} cannot run from V8's code cache; import a package or built-in by name`)
  return text
}
