// `mydocker inspect`, `history` and `info` on a store filled from a real registry.
import assert from 'node:assert/strict'
import {spawn} from 'node:child_process'
import {existsSync} from 'node:fs'
import {rm} from 'node:fs/promises'
import {release} from 'node:os'
import {after, before, describe, it} from 'node:test'
import {binPath, mydocker, pullImages, temporaryStore} from '../support/cli.js'
import {seedImages} from '../support/images.js'
import {startRegistry, type RunningRegistry} from '../support/registry.js'

const isRoot = process.getuid?.() === 0

describe('mydocker inspect, history and info', {skip: !isRoot && 'needs root to unpack layers and run containers'}, () => {
  let registry: RunningRegistry
  let root: string
  let busybox: string
  let explorer: string
  const run = (args: string[]) => mydocker(args, {root})
  const json = async (args: string[]) => {
    const result = await run(args)
    assert.equal(result.exitCode, 0, result.stderr)
    return JSON.parse(result.stdout)
  }

  before(async () => {
    registry = await startRegistry()
    ;({busybox, explorer} = await seedImages(registry.host, ['busybox', 'explorer']))
    root = await temporaryStore()
    await pullImages([busybox, explorer], root)
  })

  after(async () => {
    await registry?.remove()
    if (root) await rm(root, {recursive: true, force: true})
  })

  it('inspects an image in docker\'s shape with the config the image was built with', async () => {
    const [image] = await json(['inspect', explorer])
    assert.match(image.Id, /^sha256:[a-f0-9]{64}$/)
    assert.deepEqual(image.RepoTags, [explorer])
    assert.match(image.RepoDigests[0], new RegExp(`^${explorer.replace(/:latest$/, '')}@sha256:[a-f0-9]{64}$`))
    assert.equal(image.Os, 'linux')
    assert.equal(image.Architecture, 'amd64')
    assert.deepEqual(image.Config.Entrypoint, ['/usr/local/bin/docker-explorer'])
    assert.deepEqual(image.Config.Cmd, ['echo', 'default', 'cmd'])
    assert.ok(image.Config.Env.includes('FOO=bar'))
    assert.equal(image.Config.WorkingDir, '/work/dir')
    assert.equal(image.RootFS.Type, 'layers')
    assert.equal(image.RootFS.Layers.length, 3)
    assert.ok(image.Size > 0)
  })

  it('lists each layer with its blob digest, size, diff ID and snapshot', async () => {
    const [image] = await json(['inspect', explorer])
    const layers = image.Mydocker.Layers as Array<Record<string, unknown>>
    assert.equal(layers.length, 3)
    assert.deepEqual(layers.map((layer) => layer.DiffID), image.RootFS.Layers)
    for (const layer of layers) {
      assert.match(String(layer.Digest), /^sha256:/)
      assert.ok(Number(layer.Size) > 0)
      assert.equal(typeof layer.SnapshotID, 'number')
    }
    assert.match(image.Mydocker.ManifestDigest, /^sha256:/)
    assert.equal(image.Mydocker.ManifestMediaType, 'application/vnd.oci.image.manifest.v1+json')
  })

  it('finds an image by its image ID prefix', async () => {
    const [byName] = await json(['inspect', busybox])
    const [byId] = await json(['inspect', byName.Id.slice('sha256:'.length, 'sha256:'.length + 12)])
    assert.equal(byId.Id, byName.Id)
  })

  it('answers an unknown name on stderr with exit status 1 and prints nothing', async () => {
    const result = await run(['inspect', busybox, 'no-such-image'])
    assert.equal(result.exitCode, 1)
    assert.equal(result.stdout, '')
    assert.match(result.stderr, /no such object: no-such-image/)
  })

  it('inspects a running container to its record', async () => {
    const name = `inspect-${process.pid}`
    const child = spawn(process.execPath, [binPath, 'run', '--name', name, busybox, 'sleep', '30'], {
      env: {...process.env, MYDOCKER_ROOT: root},
      stdio: 'ignore',
    })
    try {
      let container: Record<string, any> | undefined
      for (let attempt = 0; attempt < 100 && !container; attempt++) {
        const result = await run(['inspect', name])
        if (result.exitCode === 0) container = JSON.parse(result.stdout)[0]
        else await new Promise((resolve) => setTimeout(resolve, 200))
      }
      assert.ok(container, `container ${name} never appeared`)
      assert.equal(container.Mydocker.Kind, 'container')
      assert.equal(container.Name, name)
      assert.equal(container.Image, busybox)
      assert.deepEqual(container.Args, ['sleep', '30'])
      assert.equal(container.State.Running, true)
      assert.ok(container.State.Pid > 0)
    } finally {
      child.kill('SIGTERM')
      await new Promise((resolve) => child.once('close', resolve))
    }
  })

  it('shows the history newest first, with the layer sizes', async () => {
    const result = await run(['history', explorer])
    assert.equal(result.exitCode, 0, result.stderr)
    const [header, ...rows] = result.stdout.trimEnd().split('\n')
    assert.match(header, /^CREATED\s+CREATED BY\s+SIZE\s+COMMENT$/)
    const steps = await json(['history', '--json', explorer])
    assert.equal(rows.length, steps.length)
    assert.equal(steps.filter((step: {emptyLayer: boolean}) => !step.emptyLayer).length, 3)
    const created = steps.map((step: {created: string}) => Date.parse(step.created))
    assert.deepEqual(created, [...created].sort((left, right) => right - left))
    assert.ok(steps.some((step: {size: number}) => step.size > 0))
  })

  it('reports the store, its usage, the snapshotter, cgroups and versions', async () => {
    const info = await json(['info', '--json'])
    assert.equal(info.store.root, root)
    assert.ok(info.store.usage.blobs > 0)
    assert.ok(info.store.usage.snapshots > 0)
    assert.deepEqual(info.snapshotter.inUse, ['overlay'])
    assert.equal(info.images.names, 2)
    assert.equal(info.cgroup.version, existsSync('/sys/fs/cgroup/cgroup.controllers') ? 2 : 1)
    assert.equal(info.rootless, false)
    assert.equal(info.versions.node, process.version)
    assert.equal(info.versions.kernel, release())
    assert.match(info.versions.mydocker, /^\d+\.\d+\.\d+/)
  })

  it('prints the same report as text', async () => {
    const result = await run(['info'])
    assert.equal(result.exitCode, 0, result.stderr)
    assert.match(result.stdout, new RegExp(`^Store: ${root}$`, 'm'))
    assert.match(result.stdout, /^Snapshotter: overlay/m)
    assert.match(result.stdout, /^Cgroup Version: [12]/m)
  })
})
