// Test images built with tools independent of mydocker: umoci writes OCI
// layouts (one layer per unpack, change, repack round), skopeo pushes them to
// a loopback registry. Content comes from Debian's busybox-static, the
// docker-explorer probe and debootstrap. Layouts are built once into the
// test cache (see cache.ts); a rerun only pushes.
import {cacheRoot, cachedDirectory} from './cache.js'

/**
 * Version of the image recipes below. Bump it whenever a recipe changes so
 * cached layouts built from the old recipe are not reused.
 */
const recipeVersion = 'images-2'

/** Version of the debootstrap rootfs recipe, apart so image changes reuse it. */
const rootfsVersion = 'rootfs-2'

/** The PATH Docker images conventionally set. */
export const defaultPath = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'

/** Changes one layer: receives the unpacked tree to edit in place. */
export type TreeLayer = (rootfs: string) => Promise<void>

/**
 * A layer added verbatim: writes an uncompressed tar archive to the given
 * path. Use it for entries umoci would never emit (e.g. `.wh..wh..opq`).
 */
export interface ArchiveLayer {
  writeArchive: (archivePath: string) => Promise<void>
}

/** One layer of a recipe: a tree change (umoci repack) or a verbatim tar. */
export type LayerRecipe = TreeLayer | ArchiveLayer

/** Image config fields set with `umoci config`; absent fields stay as they are. */
export interface ImageConfigOptions {
  env?: string[]
  entrypoint?: string[]
  cmd?: string[]
  workingDir?: string
  user?: string
  architecture?: string
  os?: string
}

/** What to build: layers in order on top of `base` (or nothing), then config. */
export interface LayoutRecipe {
  /** Tag inside the layout; "latest" by default. */
  tag?: string
  /** A layout directory to start from; it is copied, never modified. */
  base?: string
  layers: LayerRecipe[]
  config?: ImageConfigOptions
}

/**
 * References pushed by seedStandardImages, e.g. "127.0.0.1:5000/busybox:latest".
 * All are OCI manifests (or an OCI index) with gzip layers built by umoci;
 * umoci writes a "." entry for the root and omits unchanged parent
 * directories from later layers.
 */
export interface StandardImages {
  /**
   * busybox:latest, 2 layers. Layer 1: /bin/busybox (static) and its applet
   * symlinks in /bin, /sbin, /usr/bin, /usr/sbin (and /linuxrc); /etc/passwd
   * with root and app (1000:1000, home /home/app owned by 1000:1000);
   * /etc/group with root, app (1000) and extra (2000, member app); /tmp 1777;
   * /root; an empty /usr/local/bin. Layer 2: /usr/local/bin/docker-explorer.
   * Config: Env [PATH=defaultPath], Cmd ["sh"].
   */
  busybox: string
  /**
   * explorer:latest, 3 layers: busybox's two (same blobs), then
   * /data/hello.txt ("hello from explorer\n"). Config: Env [PATH, FOO=bar],
   * WorkingDir /work/dir (absent from the image), Entrypoint
   * ["/usr/local/bin/docker-explorer"], Cmd ["echo", "default", "cmd"].
   */
  explorer: string
  /**
   * whiteout:latest, 5 layers: busybox's two; /opaque/{a,b}, /gone.txt,
   * /kept.txt; `.wh.gone.txt` (written by umoci); `opaque/.wh..wh..opq` and
   * opaque/c (hand-written tar). Applied: /opaque holds only c, /gone.txt is
   * gone, /kept.txt stays. Config as busybox.
   */
  whiteout: string
  /**
   * multiarch:latest, an OCI index of busybox's linux/amd64 manifest, a
   * linux/arm64/v8 manifest (busybox's layers, its own config; never run)
   * and a BuildKit-style attestation manifest with platform unknown/unknown.
   */
  multiarch: string
  /**
   * debian:bookworm, 2 layers: the debootstrap minbase rootfs (empty /dev, no
   * .debs, no /etc/hostname or /etc/resolv.conf), then whiteouts for
   * /etc/motd and the directories /usr/share/doc/apt and /usr/share/doc/bash.
   * Config: Env [PATH], Cmd ["bash"].
   */
  debian: string
  /** debian:single, 1 layer: the same rootfs layer (same blob) and config. */
  debianSingle: string
}

/**
 * Builds an OCI layout from a recipe into `directory` (created; it must not
 * exist or be empty) with umoci, and tags the result `recipe.tag`. Each tree
 * layer is unpacked afresh from the image so far, changed by the callback,
 * and repacked; umoci writes deletions as per-file whiteouts.
 */
export async function buildLayout(directory: string, recipe: LayoutRecipe): Promise<void> {
  const {mkdtemp, rm} = await import('node:fs/promises')
  const {tmpdir} = await import('node:os')
  const {join} = await import('node:path')

  const image = `${directory}:${recipe.tag ?? 'latest'}`
  await startLayout(directory, image, recipe.base)

  const scratch = await mkdtemp(join(tmpdir(), 'mydocker-image-'))
  try {
    for (const [index, layer] of recipe.layers.entries()) {
      const workDirectory = join(scratch, `layer-${index}`)
      await addLayer(image, workDirectory, layer)
    }
  } finally {
    await rm(scratch, {recursive: true, force: true})
  }

  if (recipe.config) await umoci(['config', '--image', image, ...configArguments(recipe.config)])
}

/**
 * Returns a cached layout directory for `name`, building it with
 * buildLayout on first use. The cache key includes the recipe version, so
 * the same name must always mean the same recipe.
 */
export async function cachedLayout(name: string, recipe: () => Promise<LayoutRecipe>): Promise<string> {
  return cachedDirectory(`${recipeVersion}/${name}`, async (directory) => {
    await buildLayout(directory, await recipe())
  })
}

/**
 * Pushes tag `tag` of the layout to `registryHost` as `repositoryAndTag`
 * (e.g. "busybox:latest") with skopeo, over plain HTTP. `all` pushes every
 * manifest an index lists. Resolves to the pushed reference; rejects with
 * skopeo's stderr.
 */
export async function pushLayout(
  layoutDirectory: string,
  tag: string,
  registryHost: string,
  repositoryAndTag: string,
  options: {all?: boolean} = {},
): Promise<string> {
  const {execa} = await import('execa')

  const reference = `${registryHost}/${repositoryAndTag}`
  const all = options.all ? ['--all'] : []
  await execa('skopeo', [
    'copy', '--quiet', '--insecure-policy', '--dest-tls-verify=false', ...all,
    `oci:${layoutDirectory}:${tag}`, `docker://${reference}`,
  ])
  return reference
}

/**
 * Compiles test/fixtures/docker-explorer.c with `gcc -static -O2` and
 * resolves to the binary's path in the cache, keyed by the source's hash so
 * an edit rebuilds it.
 */
export async function buildProbe(): Promise<string> {
  const {createHash} = await import('node:crypto')
  const {readFile} = await import('node:fs/promises')
  const {join} = await import('node:path')
  const {execa} = await import('execa')

  const source = new URL('../fixtures/docker-explorer.c', import.meta.url).pathname
  const hash = createHash('sha256').update(await readFile(source)).digest('hex').slice(0, 16)
  const directory = await cachedDirectory(`probe/${hash}`, async (output) => {
    await execa('gcc', ['-static', '-O2', '-Wall', '-o', join(output, 'docker-explorer'), source])
  })
  return join(directory, 'docker-explorer')
}

/**
 * Builds (or reuses from the cache) every standard image and pushes it to
 * `registryHost`. The debian images need debootstrap on first use, which
 * downloads from Debian's archive and takes minutes; use seedImages to push
 * only what a test needs.
 */
export async function seedStandardImages(registryHost: string): Promise<StandardImages> {
  return seedImages(registryHost, Object.keys(standardRecipes) as Array<keyof StandardImages>)
}

/**
 * Pushes only the named standard images to `registryHost`, building them
 * first when the cache lacks them, and resolves to their references.
 * Several processes may call it at once; each layout is built once.
 */
export async function seedImages<Name extends keyof StandardImages>(
  registryHost: string,
  names: Name[],
): Promise<Pick<StandardImages, Name>> {
  const pushed: Partial<StandardImages> = {}
  for (const name of names) {
    const {repositoryAndTag, layout, all} = standardRecipes[name]
    const layoutDirectory = await layout()
    pushed[name] = await pushLayout(layoutDirectory, 'latest', registryHost, repositoryAndTag, {all})
  }
  return pushed as Pick<StandardImages, Name>
}

/**
 * The cached OCI layout of a standard image (tag "latest"), built on first
 * use, for tests that read a layout directly instead of pulling.
 */
export async function standardLayout(name: keyof StandardImages): Promise<string> {
  return standardRecipes[name].layout()
}

/** How each standard image is built and where it is pushed. */
const standardRecipes: Record<
  keyof StandardImages,
  {repositoryAndTag: string; layout: () => Promise<string>; all?: boolean}
> = {
  busybox: {repositoryAndTag: 'busybox:latest', layout: busyboxLayout},
  explorer: {repositoryAndTag: 'explorer:latest', layout: explorerLayout},
  whiteout: {repositoryAndTag: 'whiteout:latest', layout: whiteoutLayout},
  multiarch: {repositoryAndTag: 'multiarch:latest', layout: multiarchLayout, all: true},
  debian: {repositoryAndTag: 'debian:bookworm', layout: debianLayout},
  debianSingle: {repositoryAndTag: 'debian:single', layout: debianSingleLayout},
}

/** busybox:latest: layer 1 busybox and the base files, layer 2 the probe. */
async function busyboxLayout(): Promise<string> {
  return cachedLayout('busybox', async () => ({
    layers: [installBusybox, await installProbe()],
    config: {env: [`PATH=${defaultPath}`], cmd: ['sh']},
  }))
}

/** explorer:latest: busybox's layers, then /data/hello.txt; runs the probe. */
async function explorerLayout(): Promise<string> {
  const base = await busyboxLayout()
  return cachedLayout('explorer', async () => ({
    base,
    layers: [writeFiles({'data/hello.txt': 'hello from explorer\n'})],
    config: {
      env: [`PATH=${defaultPath}`, 'FOO=bar'],
      workingDir: '/work/dir',
      entrypoint: ['/usr/local/bin/docker-explorer'],
      cmd: ['echo', 'default', 'cmd'],
    },
  }))
}

/**
 * whiteout:latest, on busybox's layers:
 * layer 3 adds /opaque/a, /opaque/b, /gone.txt and /kept.txt;
 * layer 4 (umoci repack) deletes /gone.txt, which umoci writes as the
 * per-file whiteout `.wh.gone.txt`;
 * layer 5 (verbatim tar) holds `opaque/.wh..wh..opq` and `opaque/c`, because
 * umoci never writes opaque markers (it whites out each removed entry).
 * The result: /opaque holds only c, /gone.txt is gone, /kept.txt stays.
 */
async function whiteoutLayout(): Promise<string> {
  const base = await busyboxLayout()
  return cachedLayout('whiteout', async () => ({
    base,
    layers: [
      writeFiles({'opaque/a': 'a\n', 'opaque/b': 'b\n', 'gone.txt': 'gone\n', 'kept.txt': 'kept\n'}),
      removePaths(['gone.txt']),
      {writeArchive: writeOpaqueArchive},
    ],
  }))
}

/** debian:single: the debootstrap rootfs as one layer. */
async function debianSingleLayout(): Promise<string> {
  const rootfsArchive = await debianRootfsArchive()
  return cachedLayout('debian-single', async () => ({
    layers: [extractArchive(rootfsArchive)],
    config: {env: [`PATH=${defaultPath}`], cmd: ['bash']},
  }))
}

/**
 * debian:bookworm: debian:single's layer (same blob), then a layer that
 * deletes /etc/motd and the directories /usr/share/doc/apt and
 * /usr/share/doc/bash, so the image carries whiteouts.
 */
async function debianLayout(): Promise<string> {
  const base = await debianSingleLayout()
  return cachedLayout('debian-bookworm', async () => ({
    base,
    layers: [removePaths(['etc/motd', 'usr/share/doc/apt', 'usr/share/doc/bash'])],
  }))
}

/**
 * multiarch:latest: an OCI index over busybox's amd64 manifest, an arm64/v8
 * manifest reusing its layers with its own config (never run), and an
 * attestation manifest with platform unknown/unknown as BuildKit writes
 * them. umoci cannot set platforms, so the index is written by hand.
 */
async function multiarchLayout(): Promise<string> {
  const base = await busyboxLayout()
  return cachedDirectory(`${recipeVersion}/multiarch`, async (directory) => {
    const {cp} = await import('node:fs/promises')
    await cp(base, directory, {recursive: true})
    await writeMultiarchIndex(directory)
  })
}

/** Layer 1 of busybox: the static busybox, its applet links and base files. */
async function installBusybox(rootfs: string): Promise<void> {
  const {chmod, copyFile, mkdir, writeFile} = await import('node:fs/promises')
  const {join} = await import('node:path')
  const {execa} = await import('execa')

  // busybox --install does not create directories; it links into these.
  for (const directory of ['bin', 'sbin', 'usr/bin', 'usr/sbin', 'usr/local/bin', 'etc', 'root', 'home/app', 'tmp']) {
    await mkdir(join(rootfs, directory), {recursive: true})
  }
  await chmod(join(rootfs, 'tmp'), 0o1777)
  await copyFile('/bin/busybox', join(rootfs, 'bin/busybox'))
  await chmod(join(rootfs, 'bin/busybox'), 0o755)
  // Run inside the tree so the links point at /bin/busybox of the image.
  await execa('chroot', [rootfs, '/bin/busybox', '--install', '-s'])

  await writeFile(join(rootfs, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:app:/home/app:/bin/sh\n')
  await writeFile(join(rootfs, 'etc/group'), 'root:x:0:\napp:x:1000:\nextra:x:2000:app\n')
  await execa('chown', ['1000:1000', join(rootfs, 'home/app')])
}

/** Layer 2 of busybox: the probe at /usr/local/bin/docker-explorer. */
async function installProbe(): Promise<TreeLayer> {
  const probe = await buildProbe()
  return async (rootfs) => {
    const {chmod, copyFile, mkdir} = await import('node:fs/promises')
    const {join} = await import('node:path')

    await mkdir(join(rootfs, 'usr/local/bin'), {recursive: true})
    await copyFile(probe, join(rootfs, 'usr/local/bin/docker-explorer'))
    await chmod(join(rootfs, 'usr/local/bin/docker-explorer'), 0o755)
  }
}

/** A layer that writes the given files (paths relative to the root). */
export function writeFiles(files: Record<string, string>): TreeLayer {
  return async (rootfs) => {
    const {mkdir, writeFile} = await import('node:fs/promises')
    const {dirname, join} = await import('node:path')

    for (const [path, content] of Object.entries(files)) {
      await mkdir(dirname(join(rootfs, path)), {recursive: true})
      await writeFile(join(rootfs, path), content)
    }
  }
}

/** A layer that deletes the given paths (relative to the root); each must exist. */
export function removePaths(paths: string[]): TreeLayer {
  return async (rootfs) => {
    const {rm} = await import('node:fs/promises')
    const {join} = await import('node:path')

    for (const path of paths) await rm(join(rootfs, path), {recursive: true})
  }
}

/** A layer that extracts a tar archive into the tree, keeping owners and modes. */
function extractArchive(archivePath: string): TreeLayer {
  return async (rootfs) => {
    const {execa} = await import('execa')
    await execa('tar', ['-x', '-p', '--numeric-owner', '--xattrs', '-f', archivePath, '-C', rootfs])
  }
}

/** Writes the verbatim whiteout layer: /opaque made opaque, holding only c. */
async function writeOpaqueArchive(archivePath: string): Promise<void> {
  const {mkdtemp, mkdir, rm, writeFile} = await import('node:fs/promises')
  const {tmpdir} = await import('node:os')
  const {join} = await import('node:path')
  const {execa} = await import('execa')

  const staging = await mkdtemp(join(tmpdir(), 'mydocker-opaque-'))
  try {
    await mkdir(join(staging, 'opaque'))
    await writeFile(join(staging, 'opaque/.wh..wh..opq'), '')
    await writeFile(join(staging, 'opaque/c'), 'c\n')
    await execa('tar', ['-c', '--numeric-owner', '--owner=0', '--group=0', '-f', archivePath, '-C', staging, 'opaque'])
  } finally {
    await rm(staging, {recursive: true, force: true})
  }
}

/**
 * The debootstrap minbase bookworm rootfs as a tar archive in the cache,
 * cleaned by cleanRootfs. debootstrap downloads from Debian's archive
 * (deb.debian.org) and takes a minute or more, so it runs once per
 * rootfsVersion.
 */
async function debianRootfsArchive(): Promise<string> {
  const {join} = await import('node:path')

  const directory = await cachedDirectory(`${rootfsVersion}/debian-bookworm-minbase`, async (output) => {
    const {rm} = await import('node:fs/promises')
    const {execa} = await import('execa')

    const tree = join(output, 'tree')
    await execa('debootstrap', ['--variant=minbase', 'bookworm', tree])
    await cleanRootfs(tree)
    await execa('tar', ['-c', '--numeric-owner', '--xattrs', '-f', join(output, 'rootfs.tar'), '-C', tree, '.'])
    await rm(tree, {recursive: true})
  })
  return join(directory, 'rootfs.tar')
}

/**
 * Removes what debootstrap leaves that an image should not carry, as
 * Docker's debian images do: device nodes (a runtime provides /dev), the
 * downloaded .deb files and package lists, and the build host's hostname
 * and resolv.conf.
 */
async function cleanRootfs(tree: string): Promise<void> {
  const {rm} = await import('node:fs/promises')
  const {join} = await import('node:path')
  const {execa} = await import('execa')

  await execa('find', [join(tree, 'dev'), join(tree, 'var/cache/apt'), join(tree, 'var/lib/apt/lists'),
    '-mindepth', '1', '!', '-type', 'd', '-delete'])
  await execa('find', [join(tree, 'dev'), '-mindepth', '1', '-delete'])
  for (const path of ['etc/hostname', 'etc/resolv.conf']) await rm(join(tree, path), {force: true})
}

/** Creates the layout, as a copy of `base` or empty, and makes sure the tag exists. */
async function startLayout(directory: string, image: string, base: string | undefined): Promise<void> {
  const {cp, mkdir, rm} = await import('node:fs/promises')

  if (base) {
    await mkdir(directory, {recursive: true})
    await cp(base, directory, {recursive: true})
    return
  }
  // umoci init refuses an existing directory, even an empty one.
  await rm(directory, {recursive: true, force: true})
  await umoci(['init', '--layout', directory])
  await umoci(['new', '--image', image])
}

/** Adds one layer to `image`, using `workDirectory` (must not exist) as scratch. */
async function addLayer(image: string, workDirectory: string, layer: LayerRecipe): Promise<void> {
  const {join} = await import('node:path')

  if (typeof layer !== 'function') {
    const {mkdir} = await import('node:fs/promises')
    await mkdir(workDirectory, {recursive: true})
    const archivePath = join(workDirectory, 'layer.tar')
    await layer.writeArchive(archivePath)
    await umoci(['raw', 'add-layer', '--image', image, archivePath])
    return
  }

  const bundle = join(workDirectory, 'bundle')
  await umoci(['unpack', '--image', image, bundle])
  await layer(join(bundle, 'rootfs'))
  await umoci(['repack', '--image', image, bundle])
}

function configArguments(config: ImageConfigOptions): string[] {
  const result: string[] = []
  const repeated = (flag: string, values: string[] | undefined) => {
    if (values === undefined) return
    // --clear drops what a base layout set, so the list is exactly `values`.
    result.push(`--clear=${flag.slice(2)}`, ...values.flatMap((value) => [flag, value]))
  }
  repeated('--config.env', config.env)
  repeated('--config.entrypoint', config.entrypoint)
  repeated('--config.cmd', config.cmd)
  if (config.workingDir !== undefined) result.push('--config.workingdir', config.workingDir)
  if (config.user !== undefined) result.push('--config.user', config.user)
  if (config.architecture !== undefined) result.push('--architecture', config.architecture)
  if (config.os !== undefined) result.push('--os', config.os)
  return result
}

async function umoci(args: string[]): Promise<void> {
  const {execa} = await import('execa')
  await execa('umoci', args)
}

/** An OCI content descriptor. */
interface Descriptor {
  mediaType: string
  digest: string
  size: number
  platform?: {architecture: string; os: string; variant?: string}
  annotations?: Record<string, string>
}

const ociManifestType = 'application/vnd.oci.image.manifest.v1+json'
const ociIndexType = 'application/vnd.oci.image.index.v1+json'
const ociConfigType = 'application/vnd.oci.image.config.v1+json'
const refNameAnnotation = 'org.opencontainers.image.ref.name'

/** Replaces the layout's "latest" manifest by an index of three manifests. */
async function writeMultiarchIndex(layoutDirectory: string): Promise<void> {
  const {readFile, writeFile} = await import('node:fs/promises')
  const {join} = await import('node:path')

  const layoutIndexPath = join(layoutDirectory, 'index.json')
  const layoutIndex = JSON.parse(await readFile(layoutIndexPath, 'utf8'))
  const amd64: Descriptor = layoutIndex.manifests.find(
    (descriptor: Descriptor) => descriptor.annotations?.[refNameAnnotation] === 'latest',
  )
  const amd64Manifest = JSON.parse(await readBlob(layoutDirectory, amd64.digest))

  const arm64 = await writeArm64Manifest(layoutDirectory, amd64Manifest)
  const attestation = await writeAttestationManifest(layoutDirectory, amd64.digest)
  const index = {
    schemaVersion: 2,
    mediaType: ociIndexType,
    manifests: [
      {
        mediaType: ociManifestType,
        digest: amd64.digest,
        size: amd64.size,
        platform: {architecture: 'amd64', os: 'linux'},
      },
      arm64,
      attestation,
    ],
  }
  const indexDescriptor = await writeBlob(layoutDirectory, ociIndexType, JSON.stringify(index))

  layoutIndex.manifests = [{...indexDescriptor, annotations: {[refNameAnnotation]: 'latest'}}]
  await writeFile(layoutIndexPath, JSON.stringify(layoutIndex))
}

async function writeArm64Manifest(
  layoutDirectory: string,
  amd64Manifest: {config: Descriptor; layers: Descriptor[]},
): Promise<Descriptor> {
  const amd64Config = JSON.parse(await readBlob(layoutDirectory, amd64Manifest.config.digest))
  const arm64Config = {...amd64Config, architecture: 'arm64', variant: 'v8'}
  const config = await writeBlob(layoutDirectory, ociConfigType, JSON.stringify(arm64Config))

  const manifest = {schemaVersion: 2, mediaType: ociManifestType, config, layers: amd64Manifest.layers}
  const descriptor = await writeBlob(layoutDirectory, ociManifestType, JSON.stringify(manifest))
  return {...descriptor, platform: {architecture: 'arm64', os: 'linux', variant: 'v8'}}
}

/** An in-toto statement in a manifest marked the way BuildKit marks attestations. */
async function writeAttestationManifest(layoutDirectory: string, subjectDigest: string): Promise<Descriptor> {
  const statement = JSON.stringify({
    _type: 'https://in-toto.io/Statement/v0.1',
    predicateType: 'https://slsa.dev/provenance/v0.2',
    subject: [{name: 'multiarch', digest: {sha256: subjectDigest.slice('sha256:'.length)}}],
    predicate: {},
  })
  const layer = await writeBlob(layoutDirectory, 'application/vnd.in-toto+json', statement)
  const layerWithType = {...layer, annotations: {'in-toto.io/predicate-type': 'https://slsa.dev/provenance/v0.2'}}

  // The statement is stored uncompressed, so its diff ID is its digest.
  const rootfs = {type: 'layers', diff_ids: [layer.digest]}
  const configContent = {architecture: 'unknown', os: 'unknown', config: {}, rootfs}
  const config = await writeBlob(layoutDirectory, ociConfigType, JSON.stringify(configContent))

  const manifest = {schemaVersion: 2, mediaType: ociManifestType, config, layers: [layerWithType]}
  const descriptor = await writeBlob(layoutDirectory, ociManifestType, JSON.stringify(manifest))
  return {
    ...descriptor,
    platform: {architecture: 'unknown', os: 'unknown'},
    annotations: {'vnd.docker.reference.type': 'attestation-manifest', 'vnd.docker.reference.digest': subjectDigest},
  }
}

async function readBlob(layoutDirectory: string, digest: string): Promise<string> {
  const {readFile} = await import('node:fs/promises')
  const {join} = await import('node:path')
  const [algorithm, hex] = digest.split(':')
  return readFile(join(layoutDirectory, 'blobs', algorithm, hex), 'utf8')
}

async function writeBlob(layoutDirectory: string, mediaType: string, content: string): Promise<Descriptor> {
  const {createHash} = await import('node:crypto')
  const {writeFile} = await import('node:fs/promises')
  const {join} = await import('node:path')

  const bytes = Buffer.from(content)
  const hex = createHash('sha256').update(bytes).digest('hex')
  await writeFile(join(layoutDirectory, 'blobs', 'sha256', hex), bytes)
  return {mediaType, digest: `sha256:${hex}`, size: bytes.length}
}

/** The directory the image cache lives in (for reports and cleanup). */
export async function imageCacheDirectory(): Promise<string> {
  const {join} = await import('node:path')
  return join(await cacheRoot(), recipeVersion)
}
