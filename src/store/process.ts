/**
 * Process identity for leases and container records. A PID alone can be reused
 * after its process died, so a record keeps the PID with the process's start
 * time (field 22 of /proc/PID/stat) and is live only while both still match.
 */
import {readFileSync} from 'node:fs'

/** The start time of a process in clock ticks since boot, or undefined when it is gone. */
export function processStartTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    // The command name (field 2) may hold spaces and parentheses: split after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return fields[19]
  } catch {
    return undefined
  }
}

/** True while the process `pid` that started at `startTime` is running. */
export function isProcessAlive(pid: number, startTime: string | null | undefined): boolean {
  const current = processStartTime(pid)
  if (current === undefined) return false
  return startTime === null || startTime === undefined || current === startTime
}

let ownStart: string | undefined

/** This process's PID and start time, as stored in leases and container records. */
export function ownIdentity(): {pid: number; start: string | undefined} {
  ownStart ??= processStartTime(process.pid)
  return {pid: process.pid, start: ownStart}
}
