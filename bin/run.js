#!/usr/bin/env -S node --
// The mydocker entry point. `run` and `pull` take a fast path that does not
// load oclif (src/cli/fast-entry.ts, bundled into dist/fast/); every other
// command goes through oclif, which reads oclif.manifest.json so only the
// command asked for is imported.
//
// This file is CommonJS (bin/package.json says so): starting node on an ES
// module initialises its ES module loader first, some milliseconds that a warm
// run would pay for nothing. The shebang's `--` keeps node 20 from taking
// `run --env-file FILE` as its own flag.
'use strict'
const {join} = require('node:path')

const top = join(__dirname, '..')

async function main(command, rest) {
  // An ordinary user's mydocker runs in a user namespace of its own (rootless,
  // issue #5); see src/rootless/userns.ts. Root pays this uid check only.
  // MYDOCKER_USERNS is store/root.ts's USER_NAMESPACE_ENV, spelled out here so
  // that root loads nothing to check it.
  if (process.getuid() !== 0 && process.env.MYDOCKER_USERNS === undefined) {
    const {enterUserNamespace} = await import('../dist/rootless/userns.js')
    await enterUserNamespace(process.argv.slice(1), {warn: ['pull', 'load'].includes(command)})
  }

  if (command === 'run' || command === 'pull') {
    // One bundled file per command (scripts/build.js): node's ES module loader
    // would take a millisecond for each of the forty modules a warm run reaches.
    const entry = loadFastPath(command)
    if (!entry.wantsHelp(command, rest)) {
      await entry.runFast(command, rest)
      // At once, not when node's loop drains: nothing the command left (the open
      // index, a launcher still removing its directory) is to be waited for.
      process.exit()
    }
  }

  const {execute} = await import('@oclif/core')
  // The top directory, not this file's: oclif takes the nearest package.json
  // for the CLI's, and bin/ has one of its own.
  await execute({dir: top})
}

// An interrupted build can leave dist/ without the bundles.
function loadFastPath(command) {
  const bundle = join(top, 'dist', 'fast', `${command}.cjs`)
  try {
    return require('../dist/cli/load-bundle.cjs').loadBundle(bundle)
  } catch (error) {
    if (error.code !== 'ENOENT' && error.code !== 'MODULE_NOT_FOUND') throw error
    const missing = error.code === 'ENOENT' ? bundle : 'dist/cli/load-bundle.cjs'
    const hint = `run \`npm run build\` in ${top}`
    process.stderr.write(`mydocker: ${missing} is missing: the build did not finish (hint: ${hint})\n`)
    process.exit(125)
  }
}

const [command, ...rest] = process.argv.slice(2)
main(command, rest)
