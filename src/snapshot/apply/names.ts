/**
 * Entry names and link targets of a layer archive, as path components relative
 * to the snapshot root, and the whiteout names of the OCI image layer spec.
 */

/** The prefix of a whiteout file: `.wh.NAME` deletes NAME from the layers below. */
export const whiteoutPrefix = '.wh.'

/** The opaque marker: hides every lower child of the directory it stands in. */
export const opaqueMarker = '.wh..wh..opq'

/** What a base name means to the whiteout rules. */
export type WhiteoutMeaning =
  | {kind: 'none'}
  | {kind: 'opaque'}
  | {kind: 'whiteout'; name: string}
  /** Other `.wh..wh.*` names are aufs bookkeeping (hard link dirs, metadata): never created. */
  | {kind: 'ignored'}

/**
 * Splits a name into components and removes `.` and `..` lexically, as if the
 * snapshot were `/`: a `..` at the root stays at the root, and a leading `/`
 * means the root. This is how an archive entry name is placed (the OCI spec
 * resolves every name inside the root); it never yields a component `..`.
 */
export function rootedComponents(name: string): string[] {
  const components: string[] = []
  for (const component of name.split('/')) {
    if (component === '' || component === '.') continue
    if (component === '..') components.pop()
    else components.push(component)
  }

  return components
}

/**
 * Like rootedComponents, but returns undefined when a `..` would climb above the
 * root: a hard link target that does so names a file outside the snapshot, and
 * such a link is refused rather than silently pointed at something else.
 */
export function confinedComponents(name: string): string[] | undefined {
  const components: string[] = []
  for (const component of name.split('/')) {
    if (component === '' || component === '.') continue
    if (component !== '..') components.push(component)
    else if (components.pop() === undefined) return undefined
  }

  return components
}

/** Classifies a base name by the whiteout rules of the OCI image layer spec. */
export function whiteoutMeaning(baseName: string): WhiteoutMeaning {
  if (!baseName.startsWith(whiteoutPrefix)) return {kind: 'none'}
  if (baseName === opaqueMarker) return {kind: 'opaque'}
  if (baseName.startsWith(whiteoutPrefix + whiteoutPrefix)) return {kind: 'ignored'}

  const name = baseName.slice(whiteoutPrefix.length)
  // `.wh.` alone, `.wh..` and `.wh...` would name the directory itself or its
  // parent: a whiteout may only ever delete one child.
  if (name === '' || name === '.' || name === '..') return {kind: 'ignored'}
  return {kind: 'whiteout', name}
}

/** Joins a relative path and a component; the root is the empty string. */
export function joinRelative(parent: string, name: string): string {
  return parent === '' ? name : `${parent}/${name}`
}

/** The components of a relative path made by joinRelative. */
export function splitRelative(relative: string): string[] {
  return relative === '' ? [] : relative.split('/')
}

/** True when `relative` is `ancestor` or lies under it. */
export function isWithin(relative: string, ancestor: string): boolean {
  if (ancestor === '') return true
  return relative === ancestor || relative.startsWith(`${ancestor}/`)
}
