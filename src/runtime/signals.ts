/**
 * Passing the signals a user sends mydocker (Ctrl-C, `kill`, a CI runner's
 * SIGTERM) on to the helper process that runs the command: the launcher, the
 * exec helper, unshare for rootless.
 */

/** What a user sends a foreground command, and mydocker passes on. */
export const FORWARDED_SIGNALS: readonly NodeJS.Signals[] = [
  'SIGINT',
  'SIGTERM',
  'SIGHUP',
  'SIGQUIT',
  'SIGUSR1',
  'SIGUSR2',
]

/** Anything signals can be passed to: a ChildProcess, a node-pty terminal. */
export interface SignalTarget {
  kill(signal: NodeJS.Signals): unknown
}

/** A relay from start to stop; see relaySignals. */
export interface SignalRelay {
  /** From now on the signals go to `target`. */
  attach(target: SignalTarget): void
  /** Stops listening; node's default actions apply again. */
  stop(): void
}

/** What relaySignals listens for, and which of those it passes on. */
export interface RelayOptions {
  /** FORWARDED_SIGNALS when absent. */
  signals?: readonly NodeJS.Signals[]
  /** False holds a signal back (a terminal's Ctrl-C, which reaches the target on its own). */
  passOn?: (signal: NodeJS.Signals) => boolean
}

/**
 * Starts listening before the helper is spawned; attach it right after. node
 * runs signal handlers from its event loop, never inside the spawn, so a signal
 * that arrives while the helper starts goes to it, where it would otherwise end
 * mydocker by node's default action and leave the helper's command unwatched.
 */
export function relaySignals(options: RelayOptions = {}): SignalRelay {
  const passOn = options.passOn ?? (() => true)
  let target: SignalTarget | undefined
  const handlers = (options.signals ?? FORWARDED_SIGNALS).map((signal) => {
    const handler = () => {
      if (passOn(signal)) target?.kill(signal)
    }
    process.on(signal, handler)
    return [signal, handler] as const
  })

  return {
    attach(next) {
      target = next
    },
    stop() {
      for (const [signal, handler] of handlers) process.off(signal, handler)
    },
  }
}
