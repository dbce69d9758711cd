/**
 * Reading what the store holds, in the terms `mydocker images` prints.
 */
import {invalidArgument, notFound} from '../errors.js'
import {familiarRepository, parseReference, repositoryName, storedName, type Reference} from '../reference/reference.js'
import type {Store} from '../store/store.js'

/** One image as `mydocker images` shows it. */
export interface ImageListing {
  repository: string
  tag: string
  /** Config digest, as Docker's IMAGE ID. */
  id: string
  digest: string
  /** The image's creation time from its config, ISO 8601, when it has one. */
  created: string | null
  /** Bytes the unpacked layers take. */
  size: number
  name: string
}

/** Lists stored images, newest first. */
export function listImages(store: Store): ImageListing[] {
  return store.images.list().map((image) => {
    const reference = parseReference(image.name)
    return {
      repository: familiarRepository(reference),
      tag: image.tag ?? '<none>',
      id: image.configDigest,
      digest: image.indexDigest ?? image.manifestDigest,
      created: image.created,
      size: image.unpackedSize,
      name: image.name,
    }
  })
}

/**
 * The stored names `input` designates: a reference (`busybox`, `host/x:1`), or
 * an image ID prefix of at least 4 hex digits. Throws NOT_FOUND when none.
 */
export function resolveStoredNames(store: Store, input: string): string[] {
  let name: string | undefined
  try {
    name = storedName(parseReference(input))
  } catch {
    name = undefined
  }
  const idPrefix = input.replace(/^sha256:/, '')
  const names = store.images.namesMatching(name, idPrefix)
  if (names.length === 0) {
    throw notFound(`no such image: ${input}`, {hint: 'run `mydocker images` to see what the store holds'})
  }
  // An ID prefix must name one image (it may have several names); never guess.
  const images = new Set(names.map((stored) => store.images.summary(stored)?.configDigest))
  if (images.size > 1) {
    throw invalidArgument(`image ID prefix "${input}" matches ${images.size} images`, {
      hint: 'give more digits of the ID (mydocker images --no-trunc), or a name',
    })
  }
  return names
}

/**
 * True when `image` is of the repository `filter` names, and of its tag when
 * the filter has one. The filter is read as a reference, so `busybox`,
 * `library/busybox` and `docker.io/library/busybox` name the same repository.
 */
export function matchesReferenceFilter(image: ImageListing, filter: string): boolean {
  let wanted: Reference
  try {
    wanted = parseReference(filter)
  } catch {
    return false
  }
  const stored = parseReference(image.name)
  if (repositoryName(stored) !== repositoryName(wanted)) return false
  const explicitTag = filter.lastIndexOf(':') > filter.lastIndexOf('/') && !filter.includes('@')
  return !explicitTag || image.tag === wanted.tag
}
