/**
 * Removing images: names go first, then whatever no name, container or pull in
 * progress still reaches is collected, so disk use returns to where it was.
 */
import {conflict} from '../errors.js'
import {collectGarbage} from '../store/gc.js'
import {isProcessAlive} from '../store/process.js'
import type {Store} from '../store/store.js'
import {resolveStoredNames} from './images.js'

export interface RemoveResult {
  untagged: string[]
  deleted: string[]
  reclaimed: number
}

/**
 * Removes the images `inputs` name (references or ID prefixes). An image a
 * running container uses is refused with CONFLICT unless `force`; its content
 * then stays until the container ends. Throws NOT_FOUND for an unknown input
 * before removing anything.
 */
export async function removeImages(store: Store, inputs: string[], options: {force: boolean}): Promise<RemoveResult> {
  const names = [...new Set(inputs.flatMap((input) => resolveStoredNames(store, input)))]
  if (!options.force) {
    for (const name of names) refuseIfInUse(store, name)
  }

  for (const name of names) store.images.removeName(name)
  const collected = await collectGarbage(store)
  return {untagged: names, deleted: collected.blobs, reclaimed: collected.reclaimed}
}

function refuseIfInUse(store: Store, name: string): void {
  const manifest = store.images.manifestOf(name)
  const users = store.db
    .prepare('SELECT id, pid, pid_start AS start FROM containers WHERE manifest_digest = ?')
    .all(manifest) as Array<{id: string; pid: number | null; start: string | null}>
  const running = users.find((user) => user.pid !== null && isProcessAlive(user.pid, user.start))
  if (running) {
    throw conflict(`image ${name} is in use by running container ${running.id.slice(0, 12)}`, {
      hint: 'stop the container first, or use `mydocker rm -f` to remove the name anyway',
    })
  }
}
