// A build cache for slow test fixtures (image layouts, a debootstrap rootfs,
// the compiled probe), kept outside the repository so reruns skip the build.
// Test files run in parallel processes, so each entry is built by one process
// under a lock, in a temporary directory renamed into place when complete.

/**
 * The cache's root: $MYDOCKER_TEST_CACHE, else /var/cache/mydocker-test for
 * root, else ~/.cache/mydocker-test. Computed on each call, never stored.
 */
export async function cacheRoot(): Promise<string> {
  const {homedir} = await import('node:os')
  const {join} = await import('node:path')

  const fromEnvironment = process.env.MYDOCKER_TEST_CACHE
  if (fromEnvironment) return fromEnvironment
  if (process.getuid?.() === 0) return '/var/cache/mydocker-test'
  return join(homedir(), '.cache', 'mydocker-test')
}

/**
 * Returns the directory `<cacheRoot>/<key>`, calling `build(directory)` to
 * fill it first when it does not exist yet. `key` is a relative path that
 * names the recipe and its version (e.g. "images-3/busybox"); bump the
 * version when the recipe changes. Safe across processes: one builds while
 * the others wait on a lock (proper-lockfile) and then reuse the result. A
 * failed build leaves nothing behind and rejects with build's error.
 */
export async function cachedDirectory(key: string, build: (directory: string) => Promise<void>): Promise<string> {
  const {join} = await import('node:path')

  const directory = join(await cacheRoot(), key)
  if (await exists(directory)) return directory

  const release = await lockEntry(directory)
  try {
    if (!(await exists(directory))) await buildAndRename(directory, build)
  } finally {
    await release()
  }
  return directory
}

async function buildAndRename(directory: string, build: (directory: string) => Promise<void>): Promise<void> {
  const {mkdir, rename, rm} = await import('node:fs/promises')

  const partial = `${directory}.partial-${process.pid}-${Date.now()}`
  await rm(partial, {recursive: true, force: true})
  await mkdir(partial, {recursive: true})
  try {
    await build(partial)
    await rename(partial, directory)
  } catch (error) {
    await rm(partial, {recursive: true, force: true})
    throw error
  }
}

/**
 * Takes the cross-process lock `<directory>.lock`. Builds take minutes
 * (debootstrap), so waiters retry for up to 30 minutes; a holder that died
 * stops refreshing the lock and it goes stale after 30 s.
 */
async function lockEntry(directory: string): Promise<() => Promise<void>> {
  const {mkdir} = await import('node:fs/promises')
  const {dirname} = await import('node:path')
  const {default: lockfile} = await import('proper-lockfile')

  await mkdir(dirname(directory), {recursive: true})
  return lockfile.lock(directory, {
    realpath: false,
    stale: 30_000,
    update: 5_000,
    retries: {retries: 3600, factor: 1, minTimeout: 500, maxTimeout: 500},
    onCompromised: (error) => {
      // Another process may now build the same entry; the rename of the
      // second build then fails loudly rather than mixing content.
      console.error(`test cache lock for ${directory} compromised: ${error.message}`)
    },
  })
}

async function exists(path: string): Promise<boolean> {
  const {access} = await import('node:fs/promises')
  try {
    await access(path)
    return true
  } catch {
    return false
  }
}
