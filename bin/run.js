#!/usr/bin/env -S node --
// The mydocker entry point. `run` and `pull` take a fast path that does not
// load oclif (see src/cli/fast-entry.ts); every other command goes through
// oclif, which reads oclif.manifest.json so only the command asked for is imported.
// The shebang's `--` keeps node 20 from taking `run --env-file FILE` as its own flag.
const [command, ...rest] = process.argv.slice(2)

// An ordinary user's mydocker runs in a user namespace of its own (rootless,
// issue #5); see src/rootless/userns.ts. Root pays this uid check only.
if (process.getuid() !== 0 && process.env.MYDOCKER_USERNS === undefined) {
  const {enterUserNamespace} = await import('../dist/rootless/userns.js')
  await enterUserNamespace(process.argv.slice(1), {warn: ['pull', 'load'].includes(command)})
}
if (command === 'run' || command === 'pull') {
  const entry = await import('../dist/cli/fast-entry.js')
  if (!entry.wantsHelp(command, rest)) {
    await entry.runFast(command, rest)
    process.exit()
  }
}

const {execute} = await import('@oclif/core')
await execute({dir: import.meta.url})
