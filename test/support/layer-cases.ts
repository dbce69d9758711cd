/**
 * Named cases for the layer applier: each a stack of layer archives (bottom
 * first) and what the final merged tree must hold, written as data so the same
 * table can run through the applier directly (test/snapshot/apply.test.ts) and
 * later through the whole pipeline (`mydocker run` in a container).
 *
 * Hostile cases aim at `sentinel`, a host directory outside any snapshot that
 * holds one file, `keep`; it must be untouched afterwards. Inside the snapshot
 * the same path (without its leading `/`) is where resolved names land.
 */
import {execFileSync} from 'node:child_process'
import {lstatSync, readdirSync, readFileSync, readlinkSync} from 'node:fs'
import {join} from 'node:path'

import {device, dir, file, hardlink, opaque, symlink, tarArchive, whiteout, type TarEntry} from './tar-writer.js'

/** What one path of the merged tree must be. Unset fields are not checked. */
export interface Expectation {
  /** Path inside the snapshot, without a leading `/`; '' is the root. */
  path: string
  type?: 'file' | 'dir' | 'symlink' | 'absent' | 'char' | 'block' | 'fifo'
  content?: string
  /** Permission bits including setuid, setgid and sticky. */
  mode?: number
  uid?: number
  gid?: number
  /** A symlink's target, byte for byte. */
  linkTarget?: string
  /** Another path that must be the same inode (a hard link). */
  sameInodeAs?: string
  /** The exact names a directory holds. */
  children?: string[]
  /** Extended attributes that must be set, values in hex. */
  xattrs?: Record<string, string>
  device?: {major: number; minor: number}
  /** Modification time in whole seconds. */
  mtime?: number
}

/** One named case. */
export interface LayerCase {
  name: string
  /** Layer archives, bottom first. */
  layers: Buffer[]
  expect: Expectation[]
  /** The case aims at the sentinel: check it is untouched. */
  hostile?: boolean
  /** The applier must warn (a refused or skipped entry). */
  warns?: boolean
}

const capability = '0100000200200000000000000000000000000000'
const long150 = 'target-'.padEnd(150, 't')
const long200 = `deep/${'n'.repeat(195)}`

/** The table. `sentinel` is an absolute host directory holding the file `keep`. */
export function layerCases(sentinel: string): LayerCase[] {
  const inside = sentinel.replace(/^\/+/, '')
  const layer = (...entries: TarEntry[]) => tarArchive(entries)

  return [
    {
      name: 'a hard link keeps the content when its target is whited out in a later layer',
      layers: [layer(file('a', 'shared')), layer(hardlink('b', 'a')), layer(whiteout('', 'a'))],
      expect: [
        {path: 'a', type: 'absent'},
        {path: 'b', type: 'file', content: 'shared'},
      ],
    },
    {
      name: 'a hard link keeps the content when its target is whited out after it in the same layer',
      layers: [layer(file('a', 'shared')), layer(hardlink('b', 'a'), whiteout('', 'a'))],
      expect: [
        {path: 'a', type: 'absent'},
        {path: 'b', type: 'file', content: 'shared'},
      ],
    },
    {
      name: 'a chain of hard links shares one inode',
      layers: [layer(file('a', 'chain', {mode: 0o640}), hardlink('b', 'a'), hardlink('c', 'b'))],
      expect: [
        {path: 'c', type: 'file', content: 'chain', mode: 0o640, sameInodeAs: 'a'},
        {path: 'b', sameInodeAs: 'a'},
      ],
    },
    {
      name: 'a chain of hard links across layers keeps the content',
      layers: [layer(file('a', 'chain')), layer(hardlink('b', 'a')), layer(hardlink('c', 'b'))],
      expect: [
        {path: 'b', type: 'file', content: 'chain'},
        {path: 'c', type: 'file', content: 'chain'},
      ],
    },
    {
      name: 'an absolute hard link target is taken from the layer root',
      layers: [layer(dir('etc/'), file('etc/conf', 'root-relative'), hardlink('etc/alias', '/etc/conf'))],
      expect: [{path: 'etc/alias', type: 'file', content: 'root-relative', sameInodeAs: 'etc/conf'}],
    },
    {
      name: 'a hard link to itself changes nothing',
      layers: [layer(file('self', 'unchanged'), hardlink('self', 'self'))],
      expect: [{path: 'self', type: 'file', content: 'unchanged'}],
    },
    {
      name: 'a hard link whose target climbs out with ../ is refused',
      layers: [layer(file('keep', 'inside'), hardlink('escape', `../../../..${sentinel}/keep`), hardlink('up', '../keep'))],
      expect: [
        {path: 'escape', type: 'absent'},
        {path: 'up', type: 'absent'},
        {path: 'keep', type: 'file', content: 'inside'},
      ],
      hostile: true,
      warns: true,
    },
    {
      name: 'a hard link through a symlink to a host directory stays inside the root',
      layers: [layer(symlink('hostdir', sentinel), hardlink('stolen', 'hostdir/keep'))],
      expect: [
        {path: 'stolen', type: 'absent'},
        {path: 'hostdir', type: 'symlink', linkTarget: sentinel},
      ],
      hostile: true,
      warns: true,
    },
    {
      name: 'a directory replaced by a symlink to a host directory does not lead a file out',
      layers: [layer(dir('d/'), symlink('d', sentinel), file('d/pwned', 'caught'))],
      expect: [
        {path: 'd', type: 'symlink', linkTarget: sentinel},
        {path: `${inside}/pwned`, type: 'file', content: 'caught'},
        {path: `${inside}/keep`, type: 'absent'},
      ],
      hostile: true,
    },
    {
      name: 'a symlink to a host directory in a lower layer does not lead a file out',
      layers: [layer(symlink('d', sentinel)), layer(file('d/pwned', 'caught'), file('d/keep', 'overwritten?'))],
      expect: [
        {path: 'd', type: 'symlink', linkTarget: sentinel},
        {path: `${inside}/pwned`, type: 'file', content: 'caught'},
        {path: `${inside}/keep`, type: 'file', content: 'overwritten?'},
      ],
      hostile: true,
    },
    {
      name: 'a file replaces a symlink instead of writing through it',
      layers: [layer(symlink('f', `${sentinel}/keep`)), layer(file('f', 'replaced')), layer(symlink('g', `${sentinel}/keep`), file('g', 'also'))],
      expect: [
        {path: 'f', type: 'file', content: 'replaced'},
        {path: 'g', type: 'file', content: 'also'},
      ],
      hostile: true,
    },
    {
      name: 'a file replaces a hard link instead of writing into the shared inode',
      layers: [layer(file('a', 'original'), hardlink('b', 'a'), file('b', 'new'))],
      expect: [
        {path: 'a', type: 'file', content: 'original'},
        {path: 'b', type: 'file', content: 'new'},
      ],
    },
    {
      name: 'entry names with ../ stay inside the root',
      layers: [layer(file('../../x', 'x'), file('a/../../../y', 'y'), file(`../../..${sentinel}/pwned`, 'caught'), file(`/${inside}/abs`, 'abs'))],
      expect: [
        {path: 'x', type: 'file', content: 'x'},
        {path: 'y', type: 'file', content: 'y'},
        {path: `${inside}/pwned`, type: 'file', content: 'caught'},
        {path: `${inside}/abs`, type: 'file', content: 'abs'},
      ],
      hostile: true,
    },
    {
      name: 'whiteouts that name a parent or the directory itself are ignored',
      layers: [layer(dir('d/'), file('d/f', 'kept')), layer(file('d/.wh..'), file('d/.wh.'), file('d/.wh...'), file('d/.wh..wh.plnk'))],
      expect: [{path: 'd/f', type: 'file', content: 'kept'}, {path: 'd', children: ['f']}],
    },
    {
      name: 'no entry is made under a whiteout name',
      layers: [layer(file('.wh.x/y', 'y'), dir('.wh..wh..opq/'), file('.wh..wh..opq/z', 'z'))],
      expect: [{path: '', children: []}],
      warns: true,
    },
    {
      name: 'a whiteout through a symlink to a host directory deletes nothing outside',
      layers: [layer(symlink('s', sentinel)), layer(whiteout('s', 'keep'), opaque('s'))],
      expect: [{path: 's', type: 'symlink', linkTarget: sentinel}],
      hostile: true,
    },
    {
      name: 'a whiteout and a re-created directory in one layer give a fresh directory',
      layers: [layer(dir('d/'), file('d/old', 'old')), layer(whiteout('', 'd'), dir('d/', {mode: 0o700}), file('d/new', 'new'))],
      expect: [
        {path: 'd', type: 'dir', mode: 0o700, children: ['new']},
        {path: 'd/new', type: 'file', content: 'new'},
      ],
    },
    {
      name: 'a whiteout after the directory it names in the same layer keeps that layer’s directory',
      layers: [layer(dir('d/'), file('d/old', 'old')), layer(dir('d/'), file('d/new', 'new'), whiteout('', 'd'))],
      expect: [{path: 'd', type: 'dir', children: ['new']}],
    },
    {
      name: 'a whiteout and a re-created file in one layer give the new file',
      layers: [layer(file('f', 'old')), layer(whiteout('', 'f'), file('f', 'new'))],
      expect: [{path: 'f', type: 'file', content: 'new'}],
    },
    {
      name: 'an opaque marker after its sibling hides only the lower children',
      layers: [layer(dir('d/'), file('d/old', 'old'), dir('d/sub/'), file('d/sub/deep', 'deep')), layer(dir('d/'), file('d/new', 'new'), opaque('d'))],
      expect: [{path: 'd', type: 'dir', children: ['new']}],
    },
    {
      name: 'an opaque marker before its siblings hides only the lower children',
      layers: [layer(dir('d/'), file('d/old', 'old')), layer(dir('d/'), opaque('d'), file('d/new', 'new'), dir('d/sub/'))],
      expect: [{path: 'd', type: 'dir', children: ['new', 'sub']}],
    },
    {
      name: 'an opaque marker before its own directory entry still hides the lower children',
      layers: [layer(dir('d/'), file('d/old', 'old')), layer(opaque('d'), dir('d/', {mode: 0o711}), file('d/new', 'new'))],
      expect: [{path: 'd', type: 'dir', mode: 0o711, children: ['new']}],
    },
    {
      name: 'a whiteout deep in a lower directory keeps that directory’s owner and mode',
      layers: [layer(dir('a/', {mode: 0o750, uid: 5, gid: 6}), dir('a/b/', {mode: 0o700, uid: 5}), file('a/b/c', 'c'), file('a/b/d', 'd')), layer(whiteout('a/b', 'c'))],
      expect: [
        {path: 'a', mode: 0o750, uid: 5, gid: 6},
        {path: 'a/b', type: 'dir', mode: 0o700, uid: 5, children: ['d']},
      ],
    },
    {
      name: 'a parent the archive does not list keeps the lower directory’s owner and mode',
      layers: [layer(dir('opt/', {mode: 0o750, uid: 9, gid: 9, mtime: 1_234_567_890})), layer(file('opt/new', 'new'))],
      expect: [
        {path: 'opt', type: 'dir', mode: 0o750, uid: 9, gid: 9, children: ['new']},
        {path: 'opt/new', content: 'new'},
      ],
    },
    {
      name: 'a symlink hidden by an opaque directory of a middle layer is not followed',
      layers: [layer(dir('d/'), symlink('d/s', '/x')), layer(dir('d/'), opaque('d'), file('d/mid', 'mid')), layer(file('d/s/f', 'f'))],
      expect: [
        {path: 'd/s', type: 'dir'},
        {path: 'd/s/f', content: 'f'},
        {path: 'x', type: 'absent'},
        {path: 'd', children: ['mid', 's']},
      ],
    },
    {
      name: 'an opaque marker hides lower children of a directory merged below it',
      layers: [layer(dir('d/'), dir('d/x/'), file('d/x/lower', 'lower')), layer(dir('d/'), opaque('d'), file('d/x/upper', 'upper'))],
      expect: [
        {path: 'd', children: ['x']},
        {path: 'd/x', type: 'dir', children: ['upper']},
      ],
    },
    {
      name: 'an opaque marker at the root hides every lower path but keeps the layer’s own',
      layers: [layer(dir('d/'), file('d/x', 'x'), file('f', 'f')), layer(dir('d/'), file('d/y', 'y'), opaque(''), file('g', 'g'))],
      expect: [
        {path: '', children: ['d', 'g']},
        {path: 'd', children: ['y']},
      ],
    },
    {
      name: 'a whiteout inside a whited-out directory does nothing more',
      layers: [layer(dir('a/'), dir('a/b/'), file('a/b/c', 'c'), file('z', 'z')), layer(whiteout('', 'a'), whiteout('a', 'b'))],
      expect: [
        {path: 'a', type: 'absent'},
        {path: 'z', type: 'file'},
      ],
    },
    {
      name: 'a whiteout under a parent that is a file does nothing',
      layers: [layer(file('f', 'still a file')), layer(whiteout('f', 'x'), whiteout('missing/dir', 'y'))],
      expect: [
        {path: 'f', type: 'file', content: 'still a file'},
        {path: 'missing', type: 'absent'},
      ],
    },
    {
      name: 'a whiteout of a lower directory removes its whole tree',
      layers: [layer(dir('a/'), dir('a/b/'), file('a/b/c', 'c')), layer(whiteout('', 'a'))],
      expect: [
        {path: 'a', type: 'absent'},
        {path: '', children: []},
      ],
    },
    {
      name: 'a lone deep file gets parents 0755 owned by root',
      layers: [layer(file('x/y/z/file', 'deep', {uid: 7, gid: 8}))],
      expect: [
        {path: 'x', type: 'dir', mode: 0o755, uid: 0, gid: 0},
        {path: 'x/y/z', type: 'dir', mode: 0o755, uid: 0, gid: 0},
        {path: 'x/y/z/file', type: 'file', content: 'deep', uid: 7, gid: 8},
      ],
    },
    {
      name: 'modes keep setuid, setgid, sticky and no permission at all',
      layers: [
        layer(
          file('m000', '', {mode: 0o000}),
          file('m555', '', {mode: 0o555}),
          file('m4755', '', {mode: 0o4755, uid: 1000}),
          file('m2755', '', {mode: 0o2755, gid: 50}),
          dir('tmp/', {mode: 0o1777}),
          dir('locked/', {mode: 0o000}),
          file('locked/inside', 'reachable'),
          dir('sgid/', {mode: 0o2775, gid: 100}),
          file('sgid/child', '', {gid: 0}),
        ),
      ],
      expect: [
        {path: 'm000', mode: 0o000},
        {path: 'm555', mode: 0o555},
        {path: 'm4755', mode: 0o4755, uid: 1000},
        {path: 'm2755', mode: 0o2755, gid: 50},
        {path: 'tmp', type: 'dir', mode: 0o1777},
        {path: 'locked', type: 'dir', mode: 0o000},
        {path: 'locked/inside', content: 'reachable'},
        {path: 'sgid', mode: 0o2775, gid: 100},
        {path: 'sgid/child', gid: 0},
      ],
    },
    {
      name: 'numeric owners are kept for files, directories and symlinks',
      layers: [layer(dir('home/', {uid: 1000, gid: 1000}), file('home/f', 'x', {uid: 1234, gid: 5678}), symlink('home/l', 'f', {uid: 42, gid: 43}))],
      expect: [
        {path: 'home', uid: 1000, gid: 1000},
        {path: 'home/f', uid: 1234, gid: 5678},
        {path: 'home/l', type: 'symlink', uid: 42, gid: 43, linkTarget: 'f'},
      ],
    },
    {
      name: 'directory times are set after their contents',
      layers: [layer(dir('t/', {mtime: 1_000_000_000}), file('t/a', 'a', {mtime: 1_100_000_000}), dir('t/sub/', {mtime: 1_200_000_000}), file('t/sub/b', 'b'))],
      expect: [
        {path: 't', mtime: 1_000_000_000},
        {path: 't/sub', mtime: 1_200_000_000},
        {path: 't/a', mtime: 1_100_000_000},
      ],
    },
    {
      name: 'a 150-byte symlink target and a 200-byte name survive in PAX form',
      layers: [layer(dir('deep/'), symlink('long-link', long150), file(long200, 'pax name'))],
      expect: [
        {path: 'long-link', type: 'symlink', linkTarget: long150},
        {path: long200, type: 'file', content: 'pax name'},
      ],
    },
    {
      name: 'a 150-byte symlink target and a 200-byte name survive in GNU form',
      layers: [layer(dir('deep/'), symlink('long-link', long150, {longNames: 'gnu'}), file(long200, 'gnu name', {longNames: 'gnu'}), hardlink('deep/hl', long200, {longNames: 'gnu'}))],
      expect: [
        {path: 'long-link', type: 'symlink', linkTarget: long150},
        {path: long200, type: 'file', content: 'gnu name'},
        {path: 'deep/hl', sameInodeAs: long200},
      ],
    },
    {
      name: 'a name split into a ustar prefix is joined again',
      layers: [layer(file(`${'p'.repeat(120)}/${'q'.repeat(90)}`, 'prefixed', {longNames: 'prefix'}))],
      expect: [{path: `${'p'.repeat(120)}/${'q'.repeat(90)}`, type: 'file', content: 'prefixed'}],
    },
    {
      name: 'a 100-byte name field and link field without terminator are read whole',
      layers: [layer(file('n'.repeat(100), 'full field'), symlink('l'.repeat(100), 't'.repeat(100)))],
      expect: [
        {path: 'n'.repeat(100), type: 'file', content: 'full field'},
        {path: 'l'.repeat(100), type: 'symlink', linkTarget: 't'.repeat(100)},
      ],
    },
    {
      name: 'names with spaces, newlines and non-ASCII text are kept',
      layers: [layer(file('sp ace', '1'), file('new\nline', '2'), file('ünï/cødé', '3'), symlink('emoji', '🙂/../x'))],
      expect: [
        {path: 'sp ace', content: '1'},
        {path: 'new\nline', content: '2'},
        {path: 'ünï/cødé', content: '3'},
        {path: 'emoji', linkTarget: '🙂/../x'},
      ],
    },
    {
      name: 'symlink loops are created as written and entries under them are skipped',
      layers: [layer(symlink('a', 'b'), symlink('b', 'a'), symlink('self', 'self'), file('a/under', 'skipped'))],
      expect: [
        {path: 'a', type: 'symlink', linkTarget: 'b'},
        {path: 'b', type: 'symlink', linkTarget: 'a'},
        {path: 'self', type: 'symlink', linkTarget: 'self'},
      ],
      warns: true,
    },
    {
      name: 'a dangling symlink is created as written',
      layers: [layer(symlink('dangling', '/nonexistent/target'), symlink('rel', '../../nowhere'))],
      expect: [
        {path: 'dangling', type: 'symlink', linkTarget: '/nonexistent/target'},
        {path: 'rel', type: 'symlink', linkTarget: '../../nowhere'},
      ],
    },
    {
      name: 'an absolute symlink met on the way resolves inside the root',
      layers: [layer(dir('var/'), dir('run/'), symlink('var/run', '/run')), layer(file('var/run/x', 'through'))],
      expect: [
        {path: 'var/run', type: 'symlink', linkTarget: '/run'},
        {path: 'run/x', type: 'file', content: 'through'},
      ],
    },
    {
      name: 'a relative symlink with .. met on the way resolves inside the root',
      layers: [layer(dir('a/'), dir('a/b/'), symlink('a/b/up', '../../../../c')), layer(dir('a/'), file('a/b/up/f', 'clamped'))],
      expect: [{path: 'c/f', type: 'file', content: 'clamped'}],
    },
    {
      name: 'a file becomes a directory in one layer and a file again in the next',
      layers: [layer(file('a', 'first')), layer(dir('a/'), file('a/x', 'inside')), layer(file('a', 'back'))],
      expect: [{path: 'a', type: 'file', content: 'back'}],
    },
    {
      name: 'a directory becomes a symlink in a later layer',
      layers: [layer(dir('d/'), file('d/x', 'x')), layer(symlink('d', 'elsewhere'))],
      expect: [{path: 'd', type: 'symlink', linkTarget: 'elsewhere'}],
    },
    {
      name: 'device nodes and a FIFO are made with their numbers and modes',
      layers: [layer(dir('dev/'), device('dev/null', 'char', 1, 3, {mode: 0o666}), device('dev/loop0', 'block', 7, 0, {mode: 0o660, gid: 6}), device('fifo', 'fifo', 0, 0, {mode: 0o600}))],
      expect: [
        {path: 'dev/null', type: 'char', device: {major: 1, minor: 3}, mode: 0o666},
        {path: 'dev/loop0', type: 'block', device: {major: 7, minor: 0}, mode: 0o660, gid: 6},
        {path: 'fifo', type: 'fifo', mode: 0o600},
      ],
    },
    {
      name: 'a security.capability xattr survives the chown of its file',
      layers: [layer(file('ping', 'elf', {mode: 0o755, uid: 0, xattrs: {'security.capability': Buffer.from(capability, 'hex')}}), file('userfile', 'u', {uid: 1000, xattrs: {'user.binary': Buffer.of(0, 0xff, 0x80, 0x0a)}}))],
      expect: [
        {path: 'ping', xattrs: {'security.capability': capability}, mode: 0o755},
        {path: 'userfile', uid: 1000, xattrs: {'user.binary': '00ff800a'}},
      ],
    },
    {
      name: 'overlay xattrs in an archive are ignored',
      layers: [layer(dir('d/'), file('d/x', 'lower')), layer(dir('d/', {xattrs: {'trusted.overlay.opaque': 'y'}}), file('d/y', 'upper'))],
      expect: [{path: 'd', children: ['x', 'y']}],
      warns: true,
    },
    {
      name: 'an empty layer of no bytes, two zero blocks or ten kilobytes of zeros changes nothing',
      layers: [layer(file('a', 'a')), Buffer.alloc(0), Buffer.alloc(1024), Buffer.alloc(10240)],
      expect: [
        {path: '', children: ['a']},
        {path: 'a', content: 'a'},
      ],
    },
    {
      name: 'a root entry sets the root directory itself',
      layers: [layer(dir('./', {mode: 0o751}), file('./f', 'dot'))],
      expect: [
        {path: '', type: 'dir', mode: 0o751},
        {path: 'f', content: 'dot'},
      ],
    },
  ]
}

/** Checks a merged tree against the expectations; returns what differs, empty when all hold. */
export function checkView(root: string, expectations: Expectation[]): string[] {
  return expectations.flatMap((expectation) => checkOne(root, expectation).map((problem) => `${expectation.path || '/'}: ${problem}`))
}

function checkOne(root: string, expectation: Expectation): string[] {
  const path = expectation.path === '' ? root : join(root, expectation.path)
  const stats = lstatSync(path, {throwIfNoEntry: false})
  if (stats === undefined) return expectation.type === 'absent' ? [] : ['is missing']
  if (expectation.type === 'absent') return ['should be absent']

  const problems: string[] = []
  const type = typeOf(stats)
  const differ = (what: string, actual: unknown, wanted: unknown) => {
    if (wanted !== undefined && actual !== wanted) problems.push(`${what} is ${format(actual)}, wanted ${format(wanted)}`)
  }

  differ('type', type, expectation.type)
  differ('mode', stats.mode & 0o7777, expectation.mode)
  differ('uid', stats.uid, expectation.uid)
  differ('gid', stats.gid, expectation.gid)
  differ('mtime', Math.floor(stats.mtimeMs / 1000), expectation.mtime)
  if (expectation.content !== undefined) differ('content', type === 'file' ? readFileSync(path, 'utf8') : `(a ${type})`, expectation.content)
  if (expectation.linkTarget !== undefined) differ('link target', type === 'symlink' ? readlinkSync(path) : `(a ${type})`, expectation.linkTarget)
  if (expectation.children !== undefined) differ('children', type === 'dir' ? readdirSync(path).sort().join(',') : `(a ${type})`, [...expectation.children].sort().join(','))
  if (expectation.sameInodeAs !== undefined) {
    const other = lstatSync(join(root, expectation.sameInodeAs), {throwIfNoEntry: false})
    if (other?.ino !== stats.ino) problems.push(`is not the same inode as ${expectation.sameInodeAs}`)
  }

  if (expectation.device !== undefined) {
    differ('device', `${Math.floor(stats.rdev / 256) & 0xfff}:${(stats.rdev & 0xff) | (Math.floor(stats.rdev / 4096) & 0xfff00)}`, `${expectation.device.major}:${expectation.device.minor}`)
  }

  for (const [name, hex] of Object.entries(expectation.xattrs ?? {})) differ(`xattr ${name}`, readXattr(path, name), hex)
  return problems
}

function typeOf(stats: import('node:fs').Stats): string {
  if (stats.isFile()) return 'file'
  if (stats.isDirectory()) return 'dir'
  if (stats.isSymbolicLink()) return 'symlink'
  if (stats.isCharacterDevice()) return 'char'
  if (stats.isBlockDevice()) return 'block'
  if (stats.isFIFO()) return 'fifo'
  return 'other'
}

function format(value: unknown): string {
  return typeof value === 'number' && value > 7 && value < 0o10000 ? `0${value.toString(8)}` : JSON.stringify(value)
}

/** Reads an xattr without following a symlink; Node cannot, so python3 (on every machine here) does. */
function readXattr(path: string, name: string): string {
  try {
    return execFileSync('python3', ['-c', 'import os,sys;print(os.getxattr(sys.argv[1],sys.argv[2],follow_symlinks=False).hex())', path, name], {encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore']}).trim()
  } catch {
    return '(unset)'
  }
}
