/**
 * Building a bundle's rootfs: one plain directory tree merged from an image's
 * overlay snapshots, bottom layer first, the way overlayfs would show them:
 *
 * - a character device 0/0 is a whiteout: the path is removed from the tree;
 * - a directory with trusted.overlay.opaque=y (user.overlay.opaque=y for
 *   rootless snapshots) hides what lower layers had in it: the directory is
 *   emptied before the layer's own entries are copied in;
 * - a directory over a directory merges; anything else replaces what was there.
 *
 * Owners, modes and times are kept; hard links inside one layer stay hard
 * links; device nodes and FIFOs are made through the fsops helper. Snapshot
 * directories are only read. Directory times are set last, once their content
 * no longer changes.
 *
 * TODO(#8): extended attributes other than the overlay markers (file
 * capabilities such as security.capability) are not copied: Node cannot list
 * them and the fsops helper has no listxattr.
 */
import {
  chmodSync,
  copyFileSync,
  constants,
  lchownSync,
  linkSync,
  lstatSync,
  lutimesSync,
  mkdirSync,
  readdirSync,
  readlinkSync,
  rmSync,
  symlinkSync,
  utimesSync,
  type Stats,
} from 'node:fs'
import {join} from 'node:path'
import {FsOpsClient} from '../snapshot/apply/fsops-client.js'

const OPAQUE_XATTRS = ['trusted.overlay.opaque', 'user.overlay.opaque']

/** What mergeSnapshots did. */
export interface MergeResult {
  /** Entries copied, whiteouts applied and opaque directories emptied, over all layers. */
  copied: number
  whiteouts: number
  opaqueDirectories: number
}

/**
 * Merges `layers` (snapshot directories, bottom first, each holding one
 * layer's changes with overlay whiteouts) into `target`, which must exist and
 * be empty. A flat snapshot (the whole tree) is passed alone.
 */
export async function mergeSnapshots(layers: string[], target: string): Promise<MergeResult> {
  const fsops = new FsOpsClient()
  const result: MergeResult = {copied: 0, whiteouts: 0, opaqueDirectories: 0}
  const directoryTimes = new Map<string, Stats>()
  try {
    for (const layer of layers) {
      const merger = new LayerMerger(layer, target, fsops, result, directoryTimes)
      await merger.mergeDirectory('')
    }
  } finally {
    await fsops.close()
  }
  // Setting a directory's times changes no other directory, so any order will do.
  for (const [relative, stats] of directoryTimes) {
    utimesSync(join(target, relative), stats.atime, stats.mtime)
  }
  return result
}

class LayerMerger {
  /** Paths already copied in this layer, by the source's inode, to keep hard links. */
  private readonly linked = new Map<number, string>()

  constructor(
    private readonly layer: string,
    private readonly target: string,
    private readonly fsops: FsOpsClient,
    private readonly result: MergeResult,
    private readonly directoryTimes: Map<string, Stats>,
  ) {}

  /** Copies the children of the directory `relative` ('' for the root) of this layer. */
  async mergeDirectory(relative: string): Promise<void> {
    for (const name of readdirSync(join(this.layer, relative)).sort()) {
      await this.mergeEntry(relative === '' ? name : `${relative}/${name}`)
    }
  }

  private async mergeEntry(relative: string): Promise<void> {
    const source = join(this.layer, relative)
    const destination = join(this.target, relative)
    const stats = lstatSync(source)
    if (stats.isCharacterDevice() && stats.rdev === 0) {
      rmSync(destination, {recursive: true, force: true})
      this.result.whiteouts++
      return
    }

    this.result.copied++
    if (stats.isDirectory()) return this.mergeDirectoryEntry(relative, stats)
    rmSync(destination, {recursive: true, force: true})
    if (stats.isFile()) this.copyFile(source, destination, stats)
    else if (stats.isSymbolicLink()) symlinkSync(readlinkSync(source), destination)
    else if (!(await this.makeNode(relative, stats))) return
    lchownSync(destination, stats.uid, stats.gid)
    if (!stats.isSymbolicLink()) chmodSync(destination, stats.mode & 0o7777)
    lutimesSync(destination, stats.atime, stats.mtime)
  }

  private async mergeDirectoryEntry(relative: string, stats: Stats): Promise<void> {
    const destination = join(this.target, relative)
    const existing = lstatSync(destination, {throwIfNoEntry: false})
    if (existing && !existing.isDirectory()) rmSync(destination, {force: true})
    if (existing?.isDirectory() && (await this.isOpaque(relative))) {
      for (const child of readdirSync(destination)) rmSync(join(destination, child), {recursive: true, force: true})
      this.result.opaqueDirectories++
    }
    if (!existing?.isDirectory()) mkdirSync(destination)
    lchownSync(destination, stats.uid, stats.gid)
    chmodSync(destination, stats.mode & 0o7777)
    this.directoryTimes.set(relative, stats)
    await this.mergeDirectory(relative)
  }

  private async isOpaque(relative: string): Promise<boolean> {
    for (const name of OPAQUE_XATTRS) {
      const value = await this.fsops.getXattr(this.layer, relative, name)
      if (value?.toString() === 'y') return true
    }
    return false
  }

  private copyFile(source: string, destination: string, stats: Stats): void {
    const earlier = stats.nlink > 1 ? this.linked.get(stats.ino) : undefined
    if (earlier) {
      linkSync(earlier, destination)
      return
    }
    copyFileSync(source, destination, constants.COPYFILE_FICLONE)
    if (stats.nlink > 1) this.linked.set(stats.ino, destination)
  }

  // False for a socket, which no layer can carry meaningfully; it is left out.
  private async makeNode(relative: string, stats: Stats): Promise<boolean> {
    const type = stats.isFIFO() ? 'p' : stats.isCharacterDevice() ? 'c' : stats.isBlockDevice() ? 'b' : undefined
    if (type === undefined) return false
    const major = Math.floor(stats.rdev / 256) & 0xfff
    const minor = (stats.rdev & 0xff) | ((stats.rdev >> 12) & 0xfff00)
    await this.fsops.mknod(this.target, relative, {type, mode: stats.mode & 0o7777, major, minor})
    return true
  }
}
