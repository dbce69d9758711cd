// Credentials as Docker keeps them: config.json keys in their many spellings,
// credential helpers (real programs on PATH) in Docker's precedence, and
// login/logout against the hub-proxy writing the same file Docker writes.
import assert from 'node:assert/strict'
import {chmod, mkdir, mkdtemp, readFile, rm, stat, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {after, before, beforeEach, describe, it} from 'node:test'
import {defaultRegistryConfig} from '../../src/config/config.js'
import {dockerConfigDirectory, dockerCredentialStore} from '../../src/config/credentials.js'
import {login, loginRegistryName, logout} from '../../src/registry/login.js'
import {reference, startHubProxy, testClient, type HubProxy} from '../support/hub-proxy.js'
import {seedImages} from '../support/images.js'
import {startRegistry, type RunningRegistry} from '../support/registry.js'

let directory: string
let helperBin: string
const originalPath = process.env.PATH

before(async () => {
  directory = await mkdtemp(join(tmpdir(), 'mydocker-credentials-'))
  helperBin = join(directory, 'bin')
  await mkdir(helperBin)
  // Helpers answer `get` for one server URL only, and log what store/erase receive.
  for (const name of ['hosthelper', 'storehelper']) {
    const script = `#!/bin/sh
read -r input || true
case "$1" in
  get)
    if [ "$input" = "$(cat "${directory}/${name}.url" 2>/dev/null)" ]; then
      printf '{"ServerURL":"%s","Username":"${name}-user","Secret":"${name}-secret"}' "$input"
    else
      echo "credentials not found in native keychain"; exit 1
    fi ;;
  *) printf '%s %s\\n' "$1" "$input" >> "${directory}/${name}.log" ;;
esac
`
    await writeFile(join(helperBin, `docker-credential-${name}`), script)
    await chmod(join(helperBin, `docker-credential-${name}`), 0o755)
  }
  process.env.PATH = `${helperBin}:${originalPath}`
})

after(async () => {
  process.env.PATH = originalPath
  await rm(directory, {recursive: true, force: true})
})

async function configDirectory(config: unknown): Promise<string> {
  const path = await mkdtemp(join(directory, 'docker-'))
  await writeFile(join(path, 'config.json'), JSON.stringify(config))
  return path
}

const auth = (user: string, password: string) => ({auth: Buffer.from(`${user}:${password}`).toString('base64')})

describe('reading Docker config.json', () => {
  const keys = [
    {name: 'host:port', key: 'localhost:5000', registry: 'localhost:5000'},
    {name: 'https://host:port', key: 'https://localhost:5000', registry: 'localhost:5000'},
    {name: 'a URL with a path', key: 'http://localhost:5000/v2/', registry: 'localhost:5000'},
    {name: "Docker Hub's key for docker.io", key: 'https://index.docker.io/v1/', registry: 'docker.io'},
    {name: 'docker.io', key: 'docker.io', registry: 'docker.io'},
    {name: 'index.docker.io', key: 'index.docker.io', registry: 'docker.io'},
    {name: 'registry-1.docker.io', key: 'registry-1.docker.io', registry: 'docker.io'},
  ]
  for (const testCase of keys) {
    it(`finds auths keyed ${testCase.name}`, async () => {
      const store = dockerCredentialStore(await configDirectory({auths: {[testCase.key]: auth('alice', 'pa:ss')}}))
      assert.deepEqual(await store.get(testCase.registry), {username: 'alice', password: 'pa:ss'})
      assert.equal(await store.get('other.example'), undefined)
    })
  }

  it('reads username and password fields, and a missing file as no credentials', async () => {
    const store = dockerCredentialStore(await configDirectory({auths: {'ghcr.io': {username: 'bob', password: 'x'}}}))
    assert.deepEqual(await store.get('ghcr.io'), {username: 'bob', password: 'x'})
    assert.equal(await dockerCredentialStore(join(directory, 'absent')).get('ghcr.io'), undefined)
  })

  it('refuses a file that is not JSON without quoting it', async () => {
    const path = await mkdtemp(join(directory, 'docker-'))
    await writeFile(join(path, 'config.json'), '{"auths": {"x": {"auth": "c2VjcmV0"}')
    await assert.rejects(dockerCredentialStore(path).get('x'), (error: Error) => !error.message.includes('c2VjcmV0') && /not a JSON object/.test(error.message))
  })

  it('takes $DOCKER_CONFIG, else ~/.docker', () => {
    assert.equal(dockerConfigDirectory({DOCKER_CONFIG: '/elsewhere', HOME: '/home/a'}), '/elsewhere')
    assert.equal(dockerConfigDirectory({HOME: '/home/a'}), '/home/a/.docker')
  })
})

describe('credential helpers', () => {
  beforeEach(async () => {
    await writeFile(join(directory, 'hosthelper.url'), 'ghcr.io')
    await writeFile(join(directory, 'storehelper.url'), 'https://index.docker.io/v1/')
  })

  it('asks the host helper first, then the store, and never auths when a helper is configured', async () => {
    const store = dockerCredentialStore(
      await configDirectory({credHelpers: {'ghcr.io': 'hosthelper'}, credsStore: 'storehelper', auths: {'ghcr.io': auth('file', 'x'), 'https://index.docker.io/v1/': auth('file', 'y')}}),
    )
    assert.deepEqual(await store.get('ghcr.io'), {username: 'hosthelper-user', password: 'hosthelper-secret'})
    assert.deepEqual(await store.get('docker.io'), {username: 'storehelper-user', password: 'storehelper-secret'})
    assert.equal(await store.get('quay.io'), undefined, 'the store knows nothing of quay.io')
  })

  it('saves through the store and leaves an empty auths entry, as Docker does', async () => {
    const path = await configDirectory({credsStore: 'storehelper'})
    await dockerCredentialStore(path).store('localhost:5000', {username: 'u', password: 'p'})
    const written = JSON.parse(await readFile(join(path, 'config.json'), 'utf8'))
    assert.deepEqual(written.auths, {'localhost:5000': {}})
    assert.match(await readFile(join(directory, 'storehelper.log'), 'utf8'), /^store \{"ServerURL":"localhost:5000","Username":"u","Secret":"p"\}$/m)
  })
})

describe('login and logout', () => {
  let registry: RunningRegistry
  let proxy: HubProxy
  before(async () => {
    registry = await startRegistry()
    await seedImages(registry.host, ['busybox'])
    proxy = await startHubProxy(registry.host, {auth: 'bearer', anonymousTokens: false, users: {alice: 'wonderland'}})
  })
  after(async () => {
    await proxy?.stop()
    await registry?.remove()
  })

  const config = {...defaultRegistryConfig(), certsDirectory: '/nonexistent'}

  it('checks the password, writes config.json as Docker does (0600), and the client then uses it', async () => {
    const path = await mkdtemp(join(directory, 'docker-'))
    const store = dockerCredentialStore(path)
    const name = await login({registry: `http://${proxy.host}/`, username: 'alice', password: 'wonderland', credentials: store, config})

    assert.equal(name, proxy.host)
    const file = join(path, 'config.json')
    assert.deepEqual(JSON.parse(await readFile(file, 'utf8')), {auths: {[proxy.host]: auth('alice', 'wonderland')}})
    assert.equal((await stat(file)).mode & 0o777, 0o600)
    const response = await testClient({credentials: store}).getManifest(reference(`${proxy.host}/busybox:latest`))
    assert.match(response.digest, /^sha256:/)
  })

  it('refuses a wrong password and saves nothing', async () => {
    const path = await mkdtemp(join(directory, 'docker-'))
    await assert.rejects(login({registry: proxy.host, username: 'alice', password: 'nope', credentials: dockerCredentialStore(path), config}), {
      code: 'UNAUTHORIZED',
      message: /rejected/,
    })
    await assert.rejects(stat(join(path, 'config.json')), {code: 'ENOENT'})
  })

  it('logs in with Basic as well', async () => {
    proxy.behaviour.auth = 'basic'
    try {
      const path = await mkdtemp(join(directory, 'docker-'))
      await login({registry: proxy.host, username: 'alice', password: 'wonderland', credentials: dockerCredentialStore(path), config})
      await assert.rejects(login({registry: proxy.host, username: 'alice', password: 'bad', credentials: dockerCredentialStore(path), config}), {message: /rejected/})
    } finally {
      proxy.behaviour.auth = 'bearer'
    }
  })

  it('logs out, keeping the other entries and keys of the file', async () => {
    const path = await configDirectory({auths: {'https://index.docker.io/v1/': auth('a', 'b'), 'ghcr.io': auth('c', 'd')}, psFormat: 'table'})
    assert.deepEqual(await logout('docker.io', dockerCredentialStore(path)), {name: 'docker.io', removed: true})
    assert.deepEqual(JSON.parse(await readFile(join(path, 'config.json'), 'utf8')), {auths: {'ghcr.io': auth('c', 'd')}, psFormat: 'table'})
    assert.deepEqual(await logout('docker.io', dockerCredentialStore(path)), {name: 'docker.io', removed: false})
  })

  it('runs as the login and logout commands: password on stdin, Docker output, exit status 125 on refusal', async () => {
    const path = await mkdtemp(join(directory, 'docker-'))
    const run = (command: string, args: string[], input = '') => runCommand(command, args, input, {DOCKER_CONFIG: path, MYDOCKER_CONFIG: join(directory, 'none.json')})

    assert.deepEqual(await run('login', ['-u', 'alice', '--password-stdin', proxy.host], 'wonderland\n'), {status: 0, stdout: 'Login Succeeded\n', stderr: ''})
    assert.deepEqual(JSON.parse(await readFile(join(path, 'config.json'), 'utf8')).auths, {[proxy.host]: auth('alice', 'wonderland')})

    const refused = await run('login', ['-u', 'alice', '--password-stdin', proxy.host], 'wrong\n')
    assert.equal(refused.status, 125)
    assert.match(refused.stderr, /^mydocker: the credentials for .* were rejected/)
    assert.doesNotMatch(refused.stderr, /wrong/)

    assert.equal((await run('logout', [proxy.host])).stdout, `Removing login credentials for ${proxy.host}\n`)
    assert.equal((await run('logout', [proxy.host])).stdout, `Not logged in to ${proxy.host}\n`)
  })

  it('names registries as Docker does', () => {
    const cases = [
      {input: undefined, expected: 'docker.io'},
      {input: 'https://index.docker.io/v1/', expected: 'docker.io'},
      {input: 'registry-1.docker.io', expected: 'docker.io'},
      {input: 'https://Localhost:5000/v2/', expected: 'localhost:5000'},
      {input: 'ghcr.io', expected: 'ghcr.io'},
    ]
    for (const testCase of cases) assert.equal(loginRegistryName(testCase.input), testCase.expected, String(testCase.input))
    assert.throws(() => loginRegistryName('not a host!'), {code: 'INVALID_ARGUMENT'})
  })
})

/** Runs a command class from src/commands through tsx, as bin/run.js would run the built one. */
async function runCommand(command: string, args: string[], input: string, environment: Record<string, string>) {
  const {execa} = await import('execa')
  const top = join(import.meta.dirname, '..', '..')
  const script = `const {default: C} = await import(${JSON.stringify(join(top, 'src', 'commands', `${command}.ts`))}); await C.run(${JSON.stringify(args)}, ${JSON.stringify(top)})`
  const result = await execa(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
    cwd: top,
    input,
    reject: false,
    env: {...environment, MYDOCKER_DEBUG: ''},
  })
  return {status: result.exitCode, stdout: result.stdout + (result.stdout ? '\n' : ''), stderr: result.stderr}
}
