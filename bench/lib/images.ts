// The registry and images the benchmarks pull: the test suite's loopback
// registry and standard images (test/support), plus a generated image with
// one 1 GiB incompressible layer for the memory benchmark.
import type {RunningRegistry} from '../../test/support/registry.js'
import type {StandardImages} from '../../test/support/images.js'

/** A started registry and the references of the images pushed to it. */
export interface BenchRegistry<Name extends keyof StandardImages> {
  registry: RunningRegistry
  images: Pick<StandardImages, Name>
}

/**
 * Starts a loopback registry and pushes the named standard images (built
 * once into the test cache; the Debian ones need debootstrap the first time).
 * The caller ends it with `registry.remove()`.
 */
export async function startBenchRegistry<Name extends keyof StandardImages>(names: Name[]): Promise<BenchRegistry<Name>> {
  const {startRegistry} = await import('../../test/support/registry.js')
  const {seedImages} = await import('../../test/support/images.js')

  const registry = await startRegistry()
  try {
    return {registry, images: await seedImages(registry.host, names)}
  } catch (error) {
    await registry.remove()
    throw error
  }
}

/** The registry's view of a manifest: its layers' digests and sizes. */
export interface ManifestLayers {
  layers: Array<{digest: string; size: number}>
}

/** GETs the OCI manifest of `reference` (HOST/NAME:TAG) over plain HTTP. */
export async function fetchManifest(reference: string): Promise<ManifestLayers> {
  const slash = reference.indexOf('/')
  const colon = reference.lastIndexOf(':')
  const host = reference.slice(0, slash)
  const name = reference.slice(slash + 1, colon)
  const tag = reference.slice(colon + 1)
  const response = await fetch(`http://${host}/v2/${name}/manifests/${tag}`, {
    headers: {accept: 'application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json'},
  })
  if (!response.ok) throw new Error(`manifest of ${reference}: HTTP ${response.status}`)
  return (await response.json()) as ManifestLayers
}

const bigLayerVersion = 'big-layer-1'

/**
 * What the big layer's one file holds: `random` (from /dev/urandom) does not
 * compress, so the download paces the pull; `zeros` compresses about 1000
 * to 1, so decompression outruns the disk and any missing back-pressure
 * shows as memory.
 */
export type BigLayerContent = 'random' | 'zeros'

/**
 * Builds (once, cached under the test cache as "bench/big-layer-1-...") an
 * OCI layout whose single gzip layer holds one file of `sizeBytes` (1 GiB by
 * default) of `content`, as `/data/CONTENT.bin`; then pushes it to
 * `registryHost` as big-CONTENT:latest and resolves to the reference. The
 * layout is written by hand (blobs, config, manifest, index.json): umoci
 * would add nothing but time.
 */
export async function pushBigLayerImage(registryHost: string, sizeBytes = 1024 ** 3, content: BigLayerContent = 'random'): Promise<string> {
  const {cachedDirectory} = await import('../../test/support/cache.js')
  const {pushLayout} = await import('../../test/support/images.js')

  const key = `bench/${bigLayerVersion}-${sizeBytes}${content === 'random' ? '' : `-${content}`}`
  const layout = await cachedDirectory(key, (directory) => writeBigLayout(directory, sizeBytes, content))
  return pushLayout(layout, 'latest', registryHost, `big-${content}:latest`)
}

async function writeBigLayout(directory: string, sizeBytes: number, content: BigLayerContent): Promise<void> {
  const {mkdir, mkdtemp, rm, writeFile} = await import('node:fs/promises')
  const {join} = await import('node:path')
  const {execa} = await import('execa')

  const blobs = join(directory, 'blobs', 'sha256')
  await mkdir(blobs, {recursive: true})
  const staging = await mkdtemp(join(directory, '..', 'big-staging-'))
  try {
    await mkdir(join(staging, 'data'))
    const megabytes = Math.ceil(sizeBytes / 1024 / 1024)
    const source = content === 'random' ? '/dev/urandom' : '/dev/zero'
    await execa('dd', [`if=${source}`, `of=${join(staging, 'data', `${content}.bin`)}`, 'bs=1M', `count=${megabytes}`, 'status=none'])
    const archive = join(directory, 'layer.tar')
    await execa('tar', ['-c', '--numeric-owner', '--owner=0', '--group=0', '-f', archive, '-C', staging, 'data'])
    const diffId = await sha256File(archive)
    // Random data does not compress anyway, so level 1 spends least time;
    // zeros get the default level, whose ratio is near deflate's maximum.
    await execa('gzip', [content === 'random' ? '-1' : '-6', '-n', archive])
    const layer = await moveIntoBlobs(`${archive}.gz`, blobs)

    const config = JSON.stringify({
      architecture: 'amd64',
      os: 'linux',
      config: {Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'], Cmd: ['sh']},
      rootfs: {type: 'layers', diff_ids: [`sha256:${diffId}`]},
    })
    const configBlob = await writeBlob(blobs, config)
    const manifest = JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: {mediaType: 'application/vnd.oci.image.config.v1+json', ...configBlob},
      layers: [{mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', ...layer}],
    })
    const manifestBlob = await writeBlob(blobs, manifest)
    await writeFile(join(directory, 'oci-layout'), JSON.stringify({imageLayoutVersion: '1.0.0'}))
    await writeFile(join(directory, 'index.json'), JSON.stringify({
      schemaVersion: 2,
      manifests: [{
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        ...manifestBlob,
        annotations: {'org.opencontainers.image.ref.name': 'latest'},
      }],
    }))
  } finally {
    await rm(staging, {recursive: true, force: true})
  }
}

async function sha256File(path: string): Promise<string> {
  const {execa} = await import('execa')
  const {stdout} = await execa('sha256sum', [path])
  return stdout.split(' ')[0]!
}

async function moveIntoBlobs(path: string, blobs: string): Promise<{digest: string; size: number}> {
  const {rename, stat} = await import('node:fs/promises')
  const {join} = await import('node:path')
  const hex = await sha256File(path)
  const {size} = await stat(path)
  await rename(path, join(blobs, hex))
  return {digest: `sha256:${hex}`, size}
}

async function writeBlob(blobs: string, content: string): Promise<{digest: string; size: number}> {
  const {createHash} = await import('node:crypto')
  const {writeFile} = await import('node:fs/promises')
  const {join} = await import('node:path')
  const hex = createHash('sha256').update(content).digest('hex')
  await writeFile(join(blobs, hex), content)
  return {digest: `sha256:${hex}`, size: Buffer.byteLength(content)}
}
