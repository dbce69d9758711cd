// A real distribution registry (Debian's docker-registry, CNCF distribution
// 2.8) on loopback, one per test file, so tests speak the real protocol and
// never leave the machine.
import type {ChildProcess} from 'node:child_process'

/** A registry process this test process started and must stop. */
export interface RunningRegistry {
  /** Host and port to put in references, e.g. "127.0.0.1:41234". */
  host: string
  port: number
  /**
   * Where the registry keeps its content; pass it again to restart over it.
   * stop() leaves it in place; remove() takes it away.
   */
  rootDirectory: string
  /** Stops the registry (SIGTERM, then SIGKILL after 5 s) and waits for it. */
  stop(): Promise<void>
  /** Stops the registry, then removes rootDirectory: the end of a test file's registry. */
  remove(): Promise<void>
}

/** Options of startRegistry. */
export interface RegistryOptions {
  /** Storage to serve; a fresh temporary directory when absent. */
  rootDirectory?: string
  /**
   * Port to listen on; a free one is picked when absent. To restart over the
   * same content with references still valid, pass the old registry's port.
   */
  port?: number
}

const startTimeoutMilliseconds = 15_000
const stopTimeoutMilliseconds = 5_000

/**
 * Starts `docker-registry serve` on 127.0.0.1 with filesystem storage,
 * deletes enabled and no auth, and resolves once `GET /v2/` answers 200.
 * Rejects with the registry's own log when it exits or does not answer in
 * 15 s. The child dies with this process: it is started under
 * `setpriv --pdeathsig SIGKILL` and also killed from an exit handler.
 */
export async function startRegistry(options: RegistryOptions = {}): Promise<RunningRegistry> {
  const {mkdtemp} = await import('node:fs/promises')
  const {tmpdir} = await import('node:os')
  const {join} = await import('node:path')

  const rootDirectory = options.rootDirectory ?? (await mkdtemp(join(tmpdir(), 'mydocker-registry-')))
  // A port picked here may be taken before the registry binds it; try again then.
  for (let attempt = 1; ; attempt++) {
    const port = options.port ?? (await findFreePort())
    try {
      return await startOn(rootDirectory, port)
    } catch (error) {
      if (options.port !== undefined || attempt >= 3 || !isAddressInUse(error)) throw error
    }
  }
}

async function startOn(rootDirectory: string, port: number): Promise<RunningRegistry> {
  const {mkdir} = await import('node:fs/promises')
  await mkdir(rootDirectory, {recursive: true})
  const configPath = await writeConfig(rootDirectory, port)
  const host = `127.0.0.1:${port}`

  const {child, log} = await spawnRegistry(configPath)
  const killOnExit = () => child.kill('SIGKILL')
  process.on('exit', killOnExit)

  try {
    await waitUntilAnswering(host, child, log)
  } catch (error) {
    process.off('exit', killOnExit)
    await stopChild(child)
    await removeConfig(configPath)
    throw error
  }

  const stop = async () => {
    process.off('exit', killOnExit)
    await stopChild(child)
    await removeConfig(configPath)
  }
  return {
    host,
    port,
    rootDirectory,
    stop,
    async remove() {
      await stop()
      const {rm} = await import('node:fs/promises')
      await rm(rootDirectory, {recursive: true, force: true})
    },
  }
}

/** Writes the registry's YAML config into its own temporary directory. */
async function writeConfig(rootDirectory: string, port: number): Promise<string> {
  const {mkdtemp, writeFile} = await import('node:fs/promises')
  const {tmpdir} = await import('node:os')
  const {join} = await import('node:path')

  const directory = await mkdtemp(join(tmpdir(), 'mydocker-registry-config-'))
  const path = join(directory, 'config.yml')
  // JSON is YAML, and it quotes the path for us.
  const config = {
    version: 0.1,
    log: {level: 'warn', accesslog: {disabled: true}},
    storage: {filesystem: {rootdirectory: rootDirectory}, delete: {enabled: true}},
    http: {addr: `127.0.0.1:${port}`},
  }
  await writeFile(path, JSON.stringify(config, null, 2) + '\n')
  return path
}

/** A started registry process and a view of its recent output. */
interface RegistryProcess {
  child: ChildProcess
  log: () => string
}

async function removeConfig(configPath: string): Promise<void> {
  const {rm} = await import('node:fs/promises')
  const {dirname} = await import('node:path')
  await rm(dirname(configPath), {recursive: true, force: true})
}

async function spawnRegistry(configPath: string): Promise<RegistryProcess> {
  const {spawn} = await import('node:child_process')
  // PR_SET_PDEATHSIG covers a test process killed by a signal, where no
  // 'exit' handler runs.
  const child = spawn('setpriv', ['--pdeathsig', 'SIGKILL', 'docker-registry', 'serve', configPath], {
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  // A spawn failure (no setpriv or docker-registry) shows as an early exit.
  child.once('error', () => {})
  return {child, log: collectLog(child)}
}

/** Keeps the last few kilobytes of the registry's output for error messages. */
function collectLog(child: ChildProcess): () => string {
  let log = ''
  const append = (chunk: Buffer) => {
    log = (log + chunk.toString()).slice(-8192)
  }
  child.stdout?.on('data', append)
  child.stderr?.on('data', append)
  return () => log
}

async function waitUntilAnswering(host: string, child: ChildProcess, log: () => string): Promise<void> {
  const deadline = Date.now() + startTimeoutMilliseconds
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`registry on ${host} exited (${child.exitCode ?? child.signalCode}): ${log()}`)
    }
    if (await answers(host)) return
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  throw new Error(`registry on ${host} did not answer GET /v2/ within ${startTimeoutMilliseconds} ms: ${log()}`)
}

async function answers(host: string): Promise<boolean> {
  try {
    const response = await fetch(`http://${host}/v2/`, {signal: AbortSignal.timeout(1000)})
    await response.arrayBuffer()
    return response.status === 200
  } catch {
    return false
  }
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  child.kill('SIGTERM')
  const timer = setTimeout(() => child.kill('SIGKILL'), stopTimeoutMilliseconds)
  await exited
  clearTimeout(timer)
}

async function findFreePort(): Promise<number> {
  const {createServer} = await import('node:net')
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      const port = typeof address === 'object' && address !== null ? address.port : 0
      server.close(() => resolve(port))
    })
  })
}

function isAddressInUse(error: unknown): boolean {
  return error instanceof Error && /address already in use/i.test(error.message)
}
