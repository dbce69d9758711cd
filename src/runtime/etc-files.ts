/**
 * The files a container gets bind-mounted over its /etc/hosts, /etc/hostname and
 * /etc/resolv.conf, written into the per-run directory before launch.
 */
import {readFile, writeFile} from 'node:fs/promises'
import {join} from 'node:path'

/** The hosts file: loopback names and the container's hostname. */
export function hostsFile(hostname: string): string {
  return [
    '127.0.0.1\tlocalhost',
    '::1\tlocalhost ip6-localhost ip6-loopback',
    `127.0.0.1\t${hostname}`,
    '',
  ].join('\n')
}

/**
 * The host's resolv.conf for the container. In a network namespace of its own a
 * loopback nameserver (127.0.0.53 of systemd-resolved, say) answers nothing, so
 * those lines go, as Docker drops them.
 */
export function resolvConfFile(hostResolvConf: string, ownNetwork: boolean): string {
  if (!ownNetwork) return hostResolvConf
  return hostResolvConf
    .split('\n')
    .filter((line) => !/^\s*nameserver\s+(127\.|::1\b)/.test(line))
    .join('\n')
}

/**
 * Writes hosts, hostname and resolv.conf into `containerDir`, where launch.c
 * expects them. A host without /etc/resolv.conf gives an empty one.
 */
export async function writeEtcFiles(containerDir: string, hostname: string, ownNetwork: boolean): Promise<void> {
  const hostResolvConf = await readFile('/etc/resolv.conf', 'utf8').catch(() => '')
  await Promise.all([
    writeFile(join(containerDir, 'hosts'), hostsFile(hostname)),
    writeFile(join(containerDir, 'hostname'), `${hostname}\n`),
    writeFile(join(containerDir, 'resolv.conf'), resolvConfFile(hostResolvConf, ownNetwork)),
  ])
}
