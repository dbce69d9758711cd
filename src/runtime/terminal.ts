/**
 * `run -t`: the launcher runs on a pseudo-terminal made by node-pty, and this
 * process relays between it and its own stdin and stdout. The container takes
 * the terminal as its controlling terminal (launch.c --tty), so Ctrl-C, typed
 * into a raw-mode stdin, becomes SIGINT of the container's foreground group.
 *
 * node-pty is a native module, imported only here and only for -t.
 */
import type {LaunchResult} from './launcher.js'
import {relaySignals} from './signals.js'

/** What the terminal run needs from launcher.ts. */
export interface TerminalRun {
  launcherPath: string
  args: string[]
  env: Record<string, string>
  /** -i: relay stdin to the terminal; without it the container reads nothing. */
  interactive: boolean
  /** Signals received by this process to pass on to the launcher. */
  forwardedSignals: readonly NodeJS.Signals[]
}

/**
 * Runs the launcher on a new pseudo-terminal sized like this process's stdout
 * (80x24 when stdout is no terminal) and follows its size changes. Resolves with
 * the launcher's status; a launcher start error is printed on the terminal by
 * launch.c itself ("mydocker: ..."), its status is 125, 126 or 127.
 */
export async function runInTerminal(run: TerminalRun): Promise<LaunchResult> {
  const pty = await import('node-pty')
  const relay = relaySignals({signals: run.forwardedSignals})
  let terminal: import('node-pty').IPty
  try {
    terminal = pty.spawn(run.launcherPath, run.args, {
      name: 'xterm',
      cols: process.stdout.columns || 80,
      rows: process.stdout.rows || 24,
      env: run.env,
    })
  } catch (error) {
    relay.stop()
    throw error
  }
  relay.attach(terminal)

  const output = terminal.onData((data) => process.stdout.write(data))
  const restoreInput = run.interactive ? relayInput((data) => terminal.write(data)) : () => {}
  const onResize = () => terminal.resize(process.stdout.columns || 80, process.stdout.rows || 24)
  process.stdout.on('resize', onResize)

  return new Promise((resolve) => {
    terminal.onExit(({exitCode, signal}) => {
      output.dispose()
      restoreInput()
      process.stdout.off('resize', onResize)
      relay.stop()
      resolve(signal ? {exitCode: 128 + signal} : {exitCode})
    })
  })
}

// Raw mode: keys go to the container's terminal as typed, Ctrl-C included.
function relayInput(write: (data: string) => void): () => void {
  const stdin = process.stdin
  const wasRaw = stdin.isTTY ? stdin.isRaw : false
  if (stdin.isTTY) stdin.setRawMode(true)
  const onData = (chunk: Buffer) => write(chunk.toString('utf8'))
  stdin.on('data', onData)
  stdin.resume()
  return () => {
    stdin.off('data', onData)
    if (stdin.isTTY) stdin.setRawMode(wasRaw)
    stdin.pause()
  }
}
