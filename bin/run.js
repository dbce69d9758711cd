#!/usr/bin/env node
// The mydocker entry point. `run` takes a fast path that does not load oclif
// (see src/cli/run-entry.ts); every other command goes through oclif, which
// reads oclif.manifest.json so only the command asked for is imported.
const [command, ...rest] = process.argv.slice(2)
if (command === 'run') {
  const entry = await import('../dist/cli/run-entry.js')
  if (!entry.wantsHelp(rest)) {
    await entry.runFromArgv(rest)
    process.exit()
  }
}

const {execute} = await import('@oclif/core')
await execute({dir: import.meta.url})
