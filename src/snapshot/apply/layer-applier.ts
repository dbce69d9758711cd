/**
 * The file system side of applying one layer: where each entry lands, what it
 * replaces, and how whiteouts, hard links and metadata are made. apply.ts feeds
 * it the entries of tar 7's parser one at a time, in archive order.
 *
 * Paths are kept as "relative paths": components joined by `/`, the snapshot
 * root being the empty string. A relative path this applier computes never
 * holds `.` or `..` and names only real directories on the way, checked with
 * lstat (or made by this layer), so joining it to the root cannot leave it.
 */
import {
  chmodSync,
  closeSync,
  constants,
  copyFileSync,
  fchmodSync,
  fchownSync,
  futimesSync,
  lchownSync,
  linkSync,
  lstatSync,
  lutimesSync,
  mkdirSync,
  openSync,
  readdirSync,
  readlinkSync,
  rmSync,
  symlinkSync,
  unlinkSync,
  utimesSync,
  writeSync,
  type Stats,
} from 'node:fs'
import {resolve} from 'node:path'
import type {ReadEntry} from 'tar'

import type {SnapshotKind} from '../kind.js'
import {FsOpsClient, FsOpsError, type NodeType} from './fsops-client.js'
import {
  confinedComponents,
  isWithin,
  joinRelative,
  rootedComponents,
  whiteoutMeaning,
} from './names.js'

/** Linux gives up after 40 symlinks in one lookup; so does the applier. */
const maxSymlinkHops = 40

/** Flags for a file the applier writes: never through a symlink, never into an existing inode. */
const createFlags = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW

/** What a path is in the view the applier resolves through (target alone, or target over lowers). */
type Found =
  | {type: 'absent'}
  | {type: 'directory'; host: string; inTarget: boolean; stats: Stats}
  | {type: 'symlink'; host: string; inTarget: boolean; stats: Stats; linkTarget: string}
  | {type: 'other'; host: string; inTarget: boolean; stats: Stats}

/** Where an entry lands. */
interface Place {
  relative: string
  host: string
}

/** What the applier needs from ApplyLayerOptions. */
export interface LayerApplierOptions {
  target: string
  kind: SnapshotKind
  lowers: () => Promise<string[]>
  userXattr: boolean
  warn: (message: string) => void
}

/** Entry metadata the applier reads from tar's ReadEntry and the raw PAX header. */
export interface EntryExtras {
  xattrs: Map<string, Buffer>
}

/** Thrown for an entry that cannot be placed (a symlink loop on its way); the entry is skipped. */
class UnplaceableEntry extends Error {}

/**
 * Applies entries to one snapshot directory. One instance serves one layer; it
 * is not safe for concurrent use (apply.ts awaits each entry).
 */
export class LayerApplier {
  /** Bytes of file content written. */
  size = 0
  /** Entries seen, including whiteouts and skipped ones. */
  entries = 0

  private readonly root: string
  private readonly fsops = new FsOpsClient()
  /** Relative paths known to be real directories in the target. */
  private readonly directories = new Set<string>([''])
  /** Paths this layer made: its own entries and the directories on their way. */
  private readonly madeByLayer = new Map<string, 'directory' | 'other'>()
  /** Overlay: paths a whiteout of this layer named; a directory made there must be opaque. */
  private readonly whitedOut = new Set<string>()
  /** Overlay: directories this layer made opaque. */
  private readonly opaqueDirectories = new Set<string>()
  /** Overlay: for a merged directory, the lower roots that hold it as a visible directory. */
  private readonly lowerLayerCache = new Map<string, string[]>()
  /** Times of directories, set once all their contents are in place. */
  private readonly directoryTimes = new Map<string, {atime: Date; mtime: Date}>()
  /** Owners lchown refused, reported once each. */
  private readonly reportedOwners = new Set<string>()
  private lowersPromise: Promise<string[]> | undefined

  constructor(private readonly options: LayerApplierOptions) {
    this.root = resolve(options.target)
  }

  /** Applies one entry; consumes its content when it is a file. */
  async apply(entry: ReadEntry, extras: EntryExtras): Promise<void> {
    this.entries += 1
    const components = rootedComponents(entry.path)
    const meaning = whiteoutMeaning(components.at(-1) ?? '')
    try {
      if (meaning.kind === 'opaque') return await this.applyOpaque(components.slice(0, -1))
      if (meaning.kind === 'whiteout') return await this.applyWhiteout(components.slice(0, -1), meaning.name)
      if (meaning.kind === 'ignored') return
      // Whiteout names are markers, never paths: nothing is made under one.
      if (components.slice(0, -1).some((component) => whiteoutMeaning(component).kind !== 'none')) {
        return this.options.warn(`skipped entry "${entry.path}": a whiteout name stands on its way`)
      }

      await this.applyByType(entry, components, extras)
    } catch (error) {
      if (!(error instanceof UnplaceableEntry)) throw error
      this.options.warn(`skipped entry "${entry.path}": ${error.message}`)
    }
  }

  /** Sets the times of directories; call after the last entry. */
  finish(): void {
    for (const [relative, times] of this.directoryTimes) {
      try {
        utimesSync(this.hostPath(relative), times.atime, times.mtime)
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error
      }
    }
  }

  /** Stops the fsops helper if one was started. */
  async close(): Promise<void> {
    await this.fsops.close()
  }

  private async applyByType(entry: ReadEntry, components: string[], extras: EntryExtras): Promise<void> {
    switch (entry.type) {
      case 'File':
      case 'OldFile':
      case 'ContiguousFile':
        return this.applyFile(entry, components, extras)
      case 'Directory':
      case 'GNUDumpDir':
        return this.applyDirectory(entry, components, extras)
      case 'SymbolicLink':
        return this.applySymlink(entry, components, extras)
      case 'Link':
        return this.applyHardLink(entry, components)
      case 'CharacterDevice':
      case 'BlockDevice':
      case 'FIFO':
        return this.applyNode(entry, components, extras)
      default:
        this.options.warn(`skipped entry "${entry.path}" of unsupported type ${entry.type}`)
    }
  }

  // --- entries -------------------------------------------------------------

  private async applyFile(entry: ReadEntry, components: string[], extras: EntryExtras): Promise<void> {
    const place = await this.placeEntry(entry, components)
    if (place === undefined) return

    const descriptor = this.createFile(place)
    try {
      await this.writeContent(entry, descriptor)
      this.changeOwnerOfDescriptor(descriptor, entry, place)
      fchmodSync(descriptor, entry.mode ?? 0o644)
      futimesSync(descriptor, entry.atime ?? entry.mtime ?? 0, entry.mtime ?? 0)
    } finally {
      closeSync(descriptor)
    }

    this.madeByLayer.set(place.relative, 'other')
    await this.applyXattrs(place, extras)
  }

  private async applyDirectory(entry: ReadEntry, components: string[], extras: EntryExtras): Promise<void> {
    const place = components.length === 0 ? {relative: '', host: this.root} : await this.placeEntry(entry, components)
    if (place === undefined) return

    if (place.relative !== '') this.makeDirectory(place)
    this.changeOwner(place, entry.uid ?? 0, entry.gid ?? 0)
    chmodSync(place.host, entry.mode ?? 0o755)
    this.directories.add(place.relative)
    this.madeByLayer.set(place.relative, 'directory')
    if (this.whitedOut.has(place.relative)) await this.setOpaque(place.relative)

    const mtime = entry.mtime ?? new Date(0)
    this.directoryTimes.set(place.relative, {atime: entry.atime ?? mtime, mtime})
    await this.applyXattrs(place, extras)
  }

  private async applySymlink(entry: ReadEntry, components: string[], extras: EntryExtras): Promise<void> {
    const place = await this.placeEntry(entry, components)
    if (place === undefined) return

    this.removeExisting(place)
    symlinkSync(entry.linkpath ?? '', place.host)
    this.changeOwner(place, entry.uid ?? 0, entry.gid ?? 0)
    lutimesSync(place.host, entry.atime ?? entry.mtime ?? 0, entry.mtime ?? 0)
    this.madeByLayer.set(place.relative, 'other')
    await this.applyXattrs(place, extras)
  }

  /**
   * A hard link's target is resolved from the layer root like any name, but a
   * target whose `..` climbs above the root is refused (skipped with a
   * warning): it names nothing inside the snapshot. So are links to
   * directories and to missing targets. A link to itself changes nothing.
   */
  private async applyHardLink(entry: ReadEntry, components: string[]): Promise<void> {
    const place = await this.placeEntry(entry, components)
    if (place === undefined) return

    const linkpath = entry.linkpath ?? ''
    const targetComponents = confinedComponents(linkpath)
    if (targetComponents === undefined || targetComponents.length === 0) {
      return this.options.warn(`refused hard link "${entry.path}": its target "${linkpath}" is outside the layer`)
    }

    const target = await this.findLinkTarget(targetComponents)
    if (target?.relative === place.relative) return
    if (target === undefined) {
      return this.options.warn(`skipped hard link "${entry.path}": its target "${linkpath}" is missing or a directory`)
    }

    this.removeExisting(place)
    linkSync(target.host, place.host)
    this.madeByLayer.set(place.relative, 'other')
  }

  private async applyNode(entry: ReadEntry, components: string[], extras: EntryExtras): Promise<void> {
    const place = await this.placeEntry(entry, components)
    if (place === undefined) return

    const type: NodeType = entry.type === 'CharacterDevice' ? 'c' : entry.type === 'BlockDevice' ? 'b' : 'p'
    const node = {type, mode: entry.mode ?? 0o644, major: entry.header.devmaj ?? 0, minor: entry.header.devmin ?? 0}
    if (this.options.kind === 'overlay' && type === 'c' && node.major === 0 && node.minor === 0) {
      this.options.warn(`entry "${entry.path}" is a 0/0 character device, which overlayfs reads as a whiteout`)
    }

    this.removeExisting(place)
    try {
      await this.fsops.mknod(this.root, place.relative, node)
    } catch (error) {
      if (!(error instanceof FsOpsError)) throw error
      return this.options.warn(`skipped device or FIFO "${entry.path}": ${error.message}`)
    }

    this.changeOwner(place, entry.uid ?? 0, entry.gid ?? 0)
    chmodSync(place.host, node.mode)
    utimesSync(place.host, entry.atime ?? entry.mtime ?? 0, entry.mtime ?? 0)
    this.madeByLayer.set(place.relative, 'other')
    await this.applyXattrs(place, extras)
  }

  // --- whiteouts -------------------------------------------------------------

  /**
   * `.wh.NAME` hides NAME of the lower layers; what this layer itself made at
   * NAME stays, whatever the order (OCI image spec, "Whiteouts"). A directory of
   * this layer at NAME keeps its own children but hides the lower ones.
   */
  private async applyWhiteout(parentComponents: string[], name: string): Promise<void> {
    const parent = await this.resolveDirectory(parentComponents, false)
    if (parent !== undefined) await this.whiteOut(joinRelative(parent, name))
  }

  private async whiteOut(relative: string): Promise<void> {
    const made = this.madeByLayer.get(relative)
    if (this.options.kind === 'flat') {
      if (made === 'directory') this.removeLowerChildren(relative)
      else if (made === undefined) this.removeExisting(this.placeOf(relative))
      return
    }

    this.whitedOut.add(relative)
    if (made === 'directory') return await this.setOpaque(relative)
    if (made === 'other') return

    // Whatever is there was copied up from a lower layer, not made by an entry.
    this.removeExisting(this.placeOf(relative))
    await this.fsops.mknod(this.root, relative, {type: 'c', mode: 0, major: 0, minor: 0})
  }

  /** The opaque marker hides every lower child of its directory, wherever it stands among its siblings. */
  private async applyOpaque(directoryComponents: string[]): Promise<void> {
    const directory = await this.resolveDirectory(directoryComponents, false)
    if (directory === undefined) return

    this.madeByLayer.set(directory, 'directory')
    if (this.options.kind === 'flat') return this.removeLowerChildren(directory)
    if (directory !== '') return await this.setOpaque(directory)

    // overlayfs never looks at the opaque xattr of a layer's root, so an
    // opaque root is made by whiting out each child the lowers show there.
    const names = new Set<string>()
    for (const layer of await this.lowerLayersOf('')) for (const name of readdirSync(layer)) names.add(name)
    for (const name of names) await this.whiteOut(name)
  }

  /** Flat kind: deletes what lower layers put under a directory, keeping this layer's entries. */
  private removeLowerChildren(directory: string): void {
    for (const name of readdirSync(this.hostPath(directory))) {
      const child = joinRelative(directory, name)
      const made = this.madeByLayer.get(child)
      if (made === undefined) this.removeExisting(this.placeOf(child))
      else if (made === 'directory') this.removeLowerChildren(child)
    }
  }

  private async setOpaque(relative: string): Promise<void> {
    const name = this.options.userXattr ? 'user.overlay.opaque' : 'trusted.overlay.opaque'
    await this.fsops.setXattr(this.root, relative, name, Buffer.from('y'))
    this.opaqueDirectories.add(relative)
    this.forgetLowerLayers(relative)
  }

  // --- hard link targets -------------------------------------------------------

  /** The place of a hard link target, copied up from the lower layers when only they have it. */
  private async findLinkTarget(components: string[]): Promise<Place | undefined> {
    const parent = await this.resolveDirectory(components.slice(0, -1), false)
    if (parent === undefined) return undefined

    const relative = joinRelative(parent, components.at(-1)!)
    const found = await this.inspect(relative, parent)
    if (found.type === 'absent' || found.type === 'directory') return undefined
    if (!found.inTarget && !(await this.copyUp(relative, found))) return undefined
    return this.placeOf(relative)
  }

  /**
   * Overlay kind: copies a lower non-directory into the target so a hard link
   * can share its inode. The merged view does not change.
   * TODO(#4): extended attributes of the lower file are not copied.
   */
  private async copyUp(relative: string, found: Exclude<Found, {type: 'absent' | 'directory'}>): Promise<boolean> {
    const place = this.placeOf(relative)
    const {stats} = found
    if (found.type === 'symlink') {
      symlinkSync(found.linkTarget, place.host)
      this.changeOwner(place, stats.uid, stats.gid)
      lutimesSync(place.host, stats.atime, stats.mtime)
      return true
    }

    if (stats.isFile()) {
      copyFileSync(found.host, place.host, constants.COPYFILE_EXCL)
    } else {
      const type = nodeTypeOf(stats)
      if (type === undefined) return false
      // Linux's dev_t: major in bits 8-19, minor in bits 0-7 and 20-31.
      const major = Math.floor(stats.rdev / 0x100) & 0xfff
      const minor = (stats.rdev & 0xff) | (Math.floor(stats.rdev / 0x1000) & 0xfff00)
      await this.fsops.mknod(this.root, relative, {type, mode: stats.mode & 0o7777, major, minor})
    }

    this.changeOwner(place, stats.uid, stats.gid)
    chmodSync(place.host, stats.mode & 0o7777)
    utimesSync(place.host, stats.atime, stats.mtime)
    return true
  }

  // --- resolution ---------------------------------------------------------------

  /**
   * Where an entry lands: its parent resolved inside the root (directories
   * made as needed) and its own name. Undefined for a non-directory entry that
   * names the root itself.
   */
  private async placeEntry(entry: ReadEntry, components: string[]): Promise<Place | undefined> {
    if (components.length === 0) {
      this.options.warn(`skipped entry "${entry.path}": it names the snapshot root`)
      return undefined
    }

    const parent = await this.resolveDirectory(components.slice(0, -1), true)
    return this.placeOf(joinRelative(parent!, components.at(-1)!))
  }

  /**
   * Resolves directory components inside the root, following symlinks as if
   * the root were `/` (absolute targets start again at the root, `..` stops at
   * it). In overlay kind a component missing from the target is looked up in
   * the merged view of the lowers, and a lower directory on the way is copied
   * up (made in the target with its owner, mode and times). With `create`,
   * missing components become directories 0755 owned by root, and a
   * non-directory on the way is replaced by one; without it, the answer is
   * undefined when the path is not a directory in the view.
   */
  private async resolveDirectory(components: string[], create: boolean): Promise<string | undefined> {
    let pending = components
    let index = 0
    let current = ''
    let hops = 0
    while (index < pending.length) {
      const name = pending[index]
      index += 1
      if (name === '' || name === '.') continue
      if (name === '..') {
        current = current.slice(0, Math.max(0, current.lastIndexOf('/')))
        continue
      }

      const child = joinRelative(current, name)
      if (!this.directories.has(child)) {
        const found = await this.inspect(child, current)
        if (found.type === 'symlink') {
          hops += 1
          if (hops > maxSymlinkHops) throw new UnplaceableEntry(`too many symlinks on the way at "${child}"`)
          pending = [...found.linkTarget.split('/'), ...pending.slice(index)]
          index = 0
          if (found.linkTarget.startsWith('/')) current = ''
          continue
        }

        if (found.type === 'directory') await this.adoptDirectory(child, found)
        else if (create) await this.makeImpliedDirectory(child, found)
        else return undefined
      }

      if (create && !this.madeByLayer.has(child)) this.madeByLayer.set(child, 'directory')
      current = child
    }

    return current
  }

  /** Records a directory of the view as verified, copying it up when only a lower layer has it. */
  private async adoptDirectory(relative: string, found: Extract<Found, {type: 'directory'}>): Promise<void> {
    if (!found.inTarget) {
      const place = this.placeOf(relative)
      mkdirSync(place.host, {mode: 0o700})
      this.changeOwner(place, found.stats.uid, found.stats.gid)
      chmodSync(place.host, found.stats.mode & 0o7777)
      this.directoryTimes.set(relative, {atime: found.stats.atime, mtime: found.stats.mtime})
    }

    this.directories.add(relative)
  }

  /** A parent the archive does not list: a directory 0755 owned by root. */
  private async makeImpliedDirectory(relative: string, found: Found): Promise<void> {
    const place = this.placeOf(relative)
    if (found.type !== 'absent' && found.inTarget) {
      this.options.warn(`replaced "${relative}", which is not a directory, by a directory for the entries under it`)
    }

    this.makeDirectory(place)
    this.changeOwner(place, 0, 0)
    chmodSync(place.host, 0o755)
    this.directories.add(relative)
    if (this.whitedOut.has(relative)) await this.setOpaque(relative)
  }

  /** Makes a directory; an existing directory is kept (merged), anything else is removed first. */
  private makeDirectory(place: Place): void {
    try {
      mkdirSync(place.host, {mode: 0o700})
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error
      if (lstatSync(place.host).isDirectory()) return
      this.removeExisting(place)
      mkdirSync(place.host, {mode: 0o700})
    }
  }

  /** What `relative` is in the view: the target first, then (overlay kind) the lowers. */
  private async inspect(relative: string, parent: string): Promise<Found> {
    const host = this.hostPath(relative)
    const stats = lstatSync(host, {throwIfNoEntry: false})
    if (stats !== undefined) return this.describe(host, stats, true)
    if (this.options.kind === 'flat') return {type: 'absent'}

    for (const layer of await this.lowerLayersOf(parent)) {
      const lowerHost = `${layer}/${relative}`
      const lowerStats = lstatSync(lowerHost, {throwIfNoEntry: false})
      if (lowerStats !== undefined) return this.describe(lowerHost, lowerStats, false)
    }

    return {type: 'absent'}
  }

  private describe(host: string, stats: Stats, inTarget: boolean): Found {
    if (stats.isDirectory()) return {type: 'directory', host, inTarget, stats}
    if (stats.isSymbolicLink()) return {type: 'symlink', host, inTarget, stats, linkTarget: readlinkSync(host)}
    // An overlay whiteout hides the path in every layer below it.
    if (this.options.kind === 'overlay' && stats.isCharacterDevice() && stats.rdev === 0) return {type: 'absent'}
    return {type: 'other', host, inTarget, stats}
  }

  /**
   * Overlay kind: the lower roots, top-most first, in which the merged
   * directory `relative` is a visible directory. A whiteout or non-directory
   * hides the layers below it; so does an opaque directory (overlayfs merges
   * directories only down to the first opaque one).
   */
  private async lowerLayersOf(relative: string): Promise<string[]> {
    if (this.opaqueDirectories.has(relative)) return []
    const cached = this.lowerLayerCache.get(relative)
    if (cached !== undefined) return cached

    const layers: string[] = []
    if (relative === '') {
      layers.push(...(await this.lowers()))
    } else {
      const parentLayers = await this.lowerLayersOf(relative.slice(0, Math.max(0, relative.lastIndexOf('/'))))
      for (const [position, layer] of parentLayers.entries()) {
        const stats = lstatSync(`${layer}/${relative}`, {throwIfNoEntry: false})
        if (stats === undefined) continue
        if (!stats.isDirectory()) break
        layers.push(layer)
        if (position < parentLayers.length - 1 && (await this.isOpaqueLower(layer, relative))) break
      }
    }

    this.lowerLayerCache.set(relative, layers)
    return layers
  }

  private async isOpaqueLower(layer: string, relative: string): Promise<boolean> {
    const name = this.options.userXattr ? 'user.overlay.opaque' : 'trusted.overlay.opaque'
    const value = await this.fsops.getXattr(layer, relative, name)
    return value?.toString() === 'y'
  }

  private lowers(): Promise<string[]> {
    this.lowersPromise ??= this.options.lowers()
    return this.lowersPromise
  }

  // --- file system steps --------------------------------------------------------

  /** Opens a new file; whatever was there (file, symlink, directory) is removed, never written through. */
  private createFile(place: Place): number {
    try {
      return openSync(place.host, createFlags, 0o600)
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error
      this.removeExisting(place)
      return openSync(place.host, createFlags, 0o600)
    }
  }

  /** Streams an entry's content to the descriptor as it arrives; rejects with the first write error. */
  private writeContent(entry: ReadEntry, descriptor: number): Promise<void> {
    return new Promise((resolve, reject) => {
      let failure: unknown
      entry.on('data', (chunk: Buffer) => {
        if (failure !== undefined) return
        try {
          for (let offset = 0; offset < chunk.length; ) offset += writeSync(descriptor, chunk, offset)
          this.size += chunk.length
        } catch (error) {
          failure = error
        }
      })
      entry.on('end', () => (failure === undefined ? resolve() : reject(failure)))
    })
  }

  /** Removes whatever is at `place` (a directory with everything under it). */
  private removeExisting(place: Place): void {
    const stats = lstatSync(place.host, {throwIfNoEntry: false})
    if (stats === undefined) return

    if (stats.isDirectory()) {
      rmSync(place.host, {recursive: true, force: true})
      this.forgetTree(place.relative)
    } else {
      unlinkSync(place.host)
      this.madeByLayer.delete(place.relative)
    }
  }

  /** Drops what the caches know about a removed directory and everything under it. */
  private forgetTree(relative: string): void {
    for (const collection of [this.directories, this.opaqueDirectories]) {
      for (const key of collection) if (isWithin(key, relative)) collection.delete(key)
    }

    for (const collection of [this.madeByLayer, this.directoryTimes]) {
      for (const key of collection.keys()) if (isWithin(key, relative)) collection.delete(key)
    }

    this.forgetLowerLayers(relative)
  }

  private forgetLowerLayers(relative: string): void {
    for (const key of this.lowerLayerCache.keys()) if (isWithin(key, relative)) this.lowerLayerCache.delete(key)
  }

  /** Sets extended attributes after ownership and mode, since chown clears file capabilities. */
  private async applyXattrs(place: Place, extras: EntryExtras): Promise<void> {
    for (const [name, value] of extras.xattrs) {
      // Overlay xattrs from an archive could redirect or hide paths of other layers.
      if (name.startsWith('trusted.overlay.') || name.startsWith('user.overlay.')) {
        this.options.warn(`ignored extended attribute ${name} of "${place.relative}": it would steer overlayfs`)
        continue
      }

      try {
        await this.fsops.setXattr(this.root, place.relative, name, value)
      } catch (error) {
        if (!(error instanceof FsOpsError)) throw error
        this.options.warn(`could not set extended attribute ${name} of "${place.relative}": ${error.message}`)
      }
    }
  }

  private changeOwner(place: Place, uid: number, gid: number): void {
    try {
      lchownSync(place.host, uid, gid)
    } catch (error) {
      this.reportOwner(error, place.relative, uid, gid)
    }
  }

  private changeOwnerOfDescriptor(descriptor: number, entry: ReadEntry, place: Place): void {
    try {
      fchownSync(descriptor, entry.uid ?? 0, entry.gid ?? 0)
    } catch (error) {
      this.reportOwner(error, place.relative, entry.uid ?? 0, entry.gid ?? 0)
    }
  }

  /** An owner the user namespace does not map (EINVAL) or may not give (EPERM) is a warning, once per owner. */
  private reportOwner(error: unknown, relative: string, uid: number, gid: number): void {
    const code = (error as NodeJS.ErrnoException).code
    if (code !== 'EINVAL' && code !== 'EPERM') throw error
    const owner = `${uid}:${gid}`
    if (this.reportedOwners.has(owner)) return
    this.reportedOwners.add(owner)
    this.options.warn(`kept the current owner of "${relative}" and of any later path owned by ${owner}: chown failed with ${code}`)
  }

  private placeOf(relative: string): Place {
    return {relative, host: this.hostPath(relative)}
  }

  private hostPath(relative: string): string {
    return relative === '' ? this.root : `${this.root}/${relative}`
  }
}

/** The mknod type of a device node or FIFO; undefined for anything else. */
function nodeTypeOf(stats: Stats): NodeType | undefined {
  if (stats.isCharacterDevice()) return 'c'
  if (stats.isBlockDevice()) return 'b'
  return stats.isFIFO() ? 'p' : undefined
}
