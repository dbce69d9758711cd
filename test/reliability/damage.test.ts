// Damage on disk found by `mydocker system check`: each case damages a freshly
// pulled store one way, expects check to name the problem and what to do
// (exit 1), --repair to remove it (exit 0), and the next pull to bring the
// image back whole, fetching again only what was removed.
import assert from 'node:assert/strict'
import {spawnSync} from 'node:child_process'
import {randomBytes} from 'node:crypto'
import {mkdir, open, rm, truncate, unlink, writeFile} from 'node:fs/promises'
import {createRequire} from 'node:module'
import {join} from 'node:path'
import {after, before, describe, it} from 'node:test'
import type BetterSqlite3 from 'better-sqlite3'
import {mydocker, temporaryStore} from '../support/cli.js'
import {startHubProxy, type HubProxy} from '../support/hub-proxy.js'
import {seedImages} from '../support/images.js'
import {startRegistry, type RunningRegistry} from '../support/registry.js'

const isRoot = process.getuid?.() === 0

interface StoreFacts {
  root: string
  layerDigests: string[]
  configDigest: string
  snapshotIds: number[]
}

interface DamageCase {
  name: string
  damage: (facts: StoreFacts) => Promise<string>
  kind: string
  /** Whether the repair takes the image's name away (a blob it needs is gone). */
  untagged: boolean
  /** The blob the next pull must fetch again, if any. */
  refetched?: (facts: StoreFacts) => string
}

const layerBlob = (facts: StoreFacts, position: number) => join(facts.root, 'blobs', 'sha256', facts.layerDigests[position].slice(7))

const cases: DamageCase[] = [
  {
    name: 'a layer blob with one byte flipped',
    kind: 'damaged-blob',
    untagged: true,
    damage: async (facts) => {
      const handle = await open(layerBlob(facts, 2), 'r+')
      const byte = Buffer.alloc(1)
      await handle.read(byte, 0, 1, 100)
      await handle.write(Buffer.from([byte[0] ^ 0xff]), 0, 1, 100)
      await handle.close()
      return facts.layerDigests[2]
    },
    refetched: (facts) => facts.layerDigests[2],
  },
  {
    name: 'a layer blob cut short',
    kind: 'damaged-blob',
    untagged: true,
    damage: async (facts) => {
      await truncate(layerBlob(facts, 0), 10)
      return facts.layerDigests[0]
    },
    refetched: (facts) => facts.layerDigests[0],
  },
  {
    name: 'a config blob deleted',
    kind: 'missing-blob',
    untagged: true,
    damage: async (facts) => {
      await unlink(join(facts.root, 'blobs', 'sha256', facts.configDigest.slice(7)))
      return facts.configDigest
    },
    refetched: (facts) => facts.configDigest,
  },
  {
    name: 'a snapshot directory deleted',
    kind: 'missing-snapshot',
    untagged: false,
    damage: async (facts) => {
      await rm(join(facts.root, 'snapshots', String(facts.snapshotIds[1])), {recursive: true})
      return 'sha256:'
    },
  },
  {
    name: 'a blob file the index does not know',
    kind: 'unrecorded-blob',
    untagged: false,
    damage: async (facts) => {
      const hex = randomBytes(32).toString('hex')
      await writeFile(join(facts.root, 'blobs', 'sha256', hex), 'stray bytes')
      return `sha256:${hex}`
    },
  },
  {
    name: 'a snapshot directory with no row',
    kind: 'orphan-snapshot',
    untagged: false,
    damage: async (facts) => {
      await mkdir(join(facts.root, 'snapshots', '9999', 'etc'), {recursive: true})
      return '9999'
    },
  },
  {
    name: 'a snapshot build a killed process left',
    kind: 'leftover-snapshot',
    untagged: false,
    damage: async (facts) => {
      const name = `tmp-${deadPid()}-1-abcdef`
      await mkdir(join(facts.root, 'snapshots', name, 'usr'), {recursive: true})
      return name
    },
  },
]

// The PID of a process that has just exited, so surely not running.
function deadPid(): number {
  return spawnSync('true').pid!
}

function openIndex(root: string): BetterSqlite3.Database {
  const Database = createRequire(import.meta.url)('better-sqlite3') as typeof BetterSqlite3
  return new Database(join(root, 'mydocker.db'), {readonly: true})
}

function countNames(root: string): number {
  const db = openIndex(root)
  try {
    return (db.prepare('SELECT count(*) AS count FROM tags').get() as {count: number}).count
  } finally {
    db.close()
  }
}

function readFacts(root: string): StoreFacts {
  const db = openIndex(root)
  try {
    const layers = db
      .prepare('SELECT l.blob_digest AS digest, s.id FROM layers l JOIN snapshots s ON s.chain_id = l.chain_id ORDER BY l.position')
      .all() as Array<{digest: string; id: number}>
    const {config} = db.prepare('SELECT config_digest AS config FROM manifests').get() as {config: string}
    return {root, layerDigests: layers.map((layer) => layer.digest), snapshotIds: layers.map((layer) => layer.id), configDigest: config}
  } finally {
    db.close()
  }
}

describe('system check finds damage on disk, and --repair lets the next pull fix it', {skip: !isRoot && 'needs root to run containers'}, () => {
  let registry: RunningRegistry
  let proxy: HubProxy
  let image: string
  let root: string
  const run = (args: string[]) => mydocker(args, {root})

  before(async () => {
    registry = await startRegistry()
    const seeded = await seedImages(registry.host, ['explorer'])
    proxy = await startHubProxy(registry.host)
    image = seeded.explorer.replace(registry.host, proxy.host)
    root = await temporaryStore()
  })

  after(async () => {
    await proxy?.stop()
    await registry?.remove()
    if (root) await rm(root, {recursive: true, force: true})
  })

  it('finds no problem in a store just pulled', async () => {
    assert.equal((await run(['pull', '-q', image])).exitCode, 0)
    const check = await run(['system', 'check'])
    assert.equal(check.exitCode, 0, check.stdout)
    assert.match(check.stdout, /checked \d+ blobs and 3 snapshots: no problems/)
  })

  // Each case starts from the whole store the case before it left.
  for (const damageCase of cases) {
    it(`finds and repairs ${damageCase.name}`, async () => {
      const facts = readFacts(root)
      const object = await damageCase.damage(facts)

      const check = await run(['system', 'check', '--json'])
      assert.equal(check.exitCode, 1, check.stdout + check.stderr)
      const report = JSON.parse(check.stdout) as {problems: Array<{kind: string; object: string; action: string}>}
      assert.equal(report.problems.length, 1, check.stdout)
      const [problem] = report.problems
      assert.equal(problem.kind, damageCase.kind)
      assert.ok(problem.object.startsWith(object), `${problem.object} is not ${object}`)
      assert.match(problem.action, /--repair/)

      const repair = await run(['system', 'check', '--repair'])
      assert.equal(repair.exitCode, 0, repair.stdout + repair.stderr)
      assert.match(repair.stdout, /^repaired: /m)
      assert.equal(countNames(root), damageCase.untagged ? 0 : 1)

      proxy.reset()
      const pulled = await run(['pull', '-q', image])
      assert.equal(pulled.exitCode, 0, pulled.stderr)
      const blobGets = proxy.requests.filter((request) => request.method === 'GET' && request.path.includes('/blobs/'))
      const refetched = damageCase.refetched?.(facts)
      assert.deepEqual(blobGets.map((request) => request.path.split('/').pop()), refetched ? [refetched] : [])
      const ran = await run(['run', image, 'cat', '/data/hello.txt'])
      assert.equal(ran.exitCode, 0, ran.stderr)
      assert.equal(ran.stdout, 'hello from explorer\n')
      const clean = await run(['system', 'check'])
      assert.equal(clean.exitCode, 0, clean.stdout)
    })
  }
})
