/**
 * How snapshots hold a layer.
 * - overlay: only the layer's own changes, deletions as overlayfs whiteouts; a
 *   container's root is an overlay mount of its layers' snapshots.
 * - flat: the whole tree of the image up to this layer, for machines where
 *   overlay whiteouts cannot be made; a container's root is a copy of the top one.
 */
export type SnapshotKind = 'overlay' | 'flat'
