/**
 * Loading the fast paths' bundles (dist/fast/COMMAND.cjs, see scripts/build.js)
 * with V8's code cache, which node 20 does not keep for modules of its own
 * (node 22's module.enableCompileCache does).
 *
 * The build writes COMMAND.cjs.cache beside each bundle: the code V8 compiled
 * while loading it once. Compiling the bundle anew costs a warm run about five
 * milliseconds; taking the cache, about one. V8 rejects a cache made by another
 * V8 version or with other flags, and the bundle is then compiled from source.
 * V8 checks only the source's length, so the two files are paired by time: the
 * build gives both the same modification time, and a cache whose time is not
 * its bundle's (a bundle edited or rebuilt since) is not offered.
 *
 * This file is CommonJS so that bin/run.js can require it without the ES
 * module loader, whose cost the bundles exist to avoid.
 */
import {readFileSync, statSync, utimesSync, writeFileSync} from 'node:fs'
import {createRequire} from 'node:module'
import {dirname} from 'node:path'
import {Script} from 'node:vm'

/** The exports of a fast-path bundle (src/cli/fast-entry.ts). */
export interface FastEntry {
  wantsHelp(command: string, argv: string[]): boolean
  runFast(command: string, argv: string[]): Promise<void>
}

/** Requires the bundle at `file` (an absolute path), from its code cache when that is current. */
export function loadBundle(file: string): FastEntry {
  return evaluate(compileBundle(file)).exports as FastEntry
}

/**
 * Loads the bundle at `file` once and writes the code V8 compiled for it to
 * FILE.cache, then gives both files the same modification time (whole seconds,
 * which every file system keeps exactly). Loading runs only the bundle's top
 * level, which does no I/O.
 */
export function writeCodeCache(file: string): void {
  const bundle = compileBundle(file, {withCache: false})
  evaluate(bundle)
  writeFileSync(`${file}.cache`, bundle.script.createCachedData())
  const time = Math.floor(Date.now() / 1000)
  utimesSync(file, time, time)
  utimesSync(`${file}.cache`, time, time)
}

/** A bundle compiled, not yet run. */
export interface CompiledBundle {
  script: Script
  file: string
  /** True when V8 took the code cache (false: none offered, or rejected). */
  fromCache: boolean
}

// CommonJS's own wrapper, plus the function the bundle's import() calls were
// turned into (scripts/build.js): code restored from V8's cache cannot run
// import() itself, so this module, which node compiled, does it for the bundle.
// The bundles import only packages and node built-ins this way, and those
// resolve the same from dist/cli/ as from dist/fast/.
const WRAPPER_PARAMETERS = 'exports, require, module, __filename, __dirname, __bundleImport'
const importModule = (specifier: string): Promise<unknown> => import(specifier)

/** Compiles the bundle at `file`, from its current code cache unless `withCache` is false. */
export function compileBundle(file: string, options: {withCache?: boolean} = {}): CompiledBundle {
  const cachedData = options.withCache === false ? undefined : currentCache(file)
  const source = `(function (${WRAPPER_PARAMETERS}) {${readFileSync(file, 'utf8')}\n})`
  const script = new Script(source, {filename: file, cachedData})
  return {script, file, fromCache: cachedData !== undefined && !script.cachedDataRejected}
}

function evaluate({script, file}: CompiledBundle): {exports: unknown} {
  const wrapper = script.runInThisContext() as (...args: unknown[]) => void
  const module = {exports: {}}
  wrapper.call(module.exports, module.exports, createRequire(file), module, file, dirname(file), importModule)
  return module
}

function currentCache(file: string): Buffer | undefined {
  try {
    if (statSync(`${file}.cache`).mtimeMs !== statSync(file).mtimeMs) return undefined
    return readFileSync(`${file}.cache`)
  } catch {
    return undefined
  }
}
