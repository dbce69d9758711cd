/**
 * `mydocker run --runtime runc`: the same container, handed to runc as an OCI
 * runtime bundle (config.json from the image config and the run flags, rootfs a
 * merged copy of the snapshots) instead of the built-in launcher.
 */
import {rm} from 'node:fs/promises'
import {constants} from 'node:os'
import {join} from 'node:path'
import {MydockerError} from '../errors.js'
import type {LaunchSpec} from '../runtime/launcher.js'
import type {Store} from '../store/store.js'

export interface RuncRun {
  id: string
  image: string
  spec: LaunchSpec
  tty: boolean
}

/**
 * Runs the container with runc and resolves with its exit status (runc passes
 * the command's own status through, 128+N for a signal). The bundle and runc's
 * state are removed afterwards, also when the run fails.
 */
export async function runWithRunc(store: Store, run: RuncRun): Promise<number> {
  const [{writeBundle}, {execa}] = await Promise.all([import('../bundle/index.js'), import('execa')])
  const dir = join(run.spec.containerDir, 'bundle')
  try {
    await writeBundle({
      store,
      image: run.image,
      dir,
      process: {args: run.spec.args, env: run.spec.env, cwd: run.spec.cwd, user: run.spec.user},
      hostname: run.spec.hostname,
      network: run.spec.network,
      readOnly: run.spec.readOnly,
      terminal: run.tty,
    })
    const result = await execa('runc', ['run', '--bundle', dir, run.id], {
      stdio: [run.spec.interactive ? 'inherit' : 'ignore', 'inherit', 'inherit'],
      reject: false,
    })
    if (result.failed && result.exitCode === undefined && result.signal === undefined) {
      throw new MydockerError('UNAVAILABLE', `cannot start runc: ${result.shortMessage}`, {
        hint: 'install runc (apt-get install runc), or run without --runtime runc',
      })
    }
    return result.exitCode ?? 128 + signalNumber(result.signal)
  } finally {
    await execa('runc', ['delete', '--force', run.id], {reject: false})
    await rm(run.spec.containerDir, {recursive: true, force: true})
  }
}

function signalNumber(signal: string | undefined): number {
  return signal ? (constants.signals as Record<string, number>)[signal] ?? 0 : 0
}
