/**
 * Resolving Docker's --user syntax (`uid`, `uid:gid`, `name`, `name:group`,
 * empty for root) to numbers with the image's own /etc/passwd and /etc/group,
 * as Docker does before it hands the runtime a spec with numeric ids.
 */
import {readFileSync, realpathSync} from 'node:fs'
import {join} from 'node:path'
import {invalidArgument} from '../errors.js'

/** A user resolved inside an image. */
export interface ResolvedUser {
  uid: number
  gid: number
  /** Groups of /etc/group that list the user as a member. */
  additionalGids: number[]
  /** The passwd entry's home directory, '/' when the user has none. */
  home: string
}

interface PasswdEntry {
  name: string
  uid: number
  gid: number
  home: string
}

interface GroupEntry {
  name: string
  gid: number
  members: string[]
}

/**
 * Resolves `user` against the files under `rootfs`. A numeric uid without a
 * passwd entry runs with gid 0, as Docker. Throws INVALID_ARGUMENT naming the
 * user or group when a name is not found.
 */
export function resolveUser(rootfs: string, user: string): ResolvedUser {
  const passwd = readTable(rootfs, join(rootfs, 'etc', 'passwd'), parsePasswdLine)
  const groups = readTable(rootfs, join(rootfs, 'etc', 'group'), parseGroupLine)
  const [userPart, groupPart] = user === '' ? ['0', undefined] : user.split(':', 2)

  const entry = /^\d+$/.test(userPart) ? passwd.find((row) => row.uid === Number(userPart)) : passwd.find((row) => row.name === userPart)
  if (!entry && !/^\d+$/.test(userPart)) {
    throw invalidArgument(`unable to find user ${userPart}: no matching entries in the image's /etc/passwd`)
  }
  const uid = entry?.uid ?? Number(userPart)
  const gid = groupPart === undefined ? (entry?.gid ?? 0) : groupId(groups, groupPart)
  const additionalGids = groupPart === undefined && entry ? groups.filter((group) => group.members.includes(entry.name) && group.gid !== gid).map((group) => group.gid) : []
  return {uid, gid, additionalGids, home: entry?.home || '/'}
}

function groupId(groups: GroupEntry[], group: string): number {
  if (/^\d+$/.test(group)) return Number(group)
  const entry = groups.find((row) => row.name === group)
  if (!entry) throw invalidArgument(`unable to find group ${group}: no matching entries in the image's /etc/group`)
  return entry.gid
}

// A file reached through a symlink that leaves the root file system is the
// host's, not the image's: it reads as missing.
function readTable<T>(rootfs: string, path: string, parse: (line: string) => T | undefined): T[] {
  let text: string
  try {
    const real = realpathSync(path)
    if (!real.startsWith(`${realpathSync(rootfs)}/`)) return []
    text = readFileSync(real, 'utf8')
  } catch {
    return []
  }
  return text.split('\n').map(parse).filter((row): row is T => row !== undefined)
}

function parsePasswdLine(line: string): PasswdEntry | undefined {
  const fields = line.split(':')
  if (fields.length < 7 || !/^\d+$/.test(fields[2]) || !/^\d+$/.test(fields[3])) return undefined
  return {name: fields[0], uid: Number(fields[2]), gid: Number(fields[3]), home: fields[5]}
}

function parseGroupLine(line: string): GroupEntry | undefined {
  const fields = line.split(':')
  if (fields.length < 4 || !/^\d+$/.test(fields[2])) return undefined
  return {name: fields[0], gid: Number(fields[2]), members: fields[3].split(',').filter(Boolean)}
}
