/**
 * Passing the signals a user sends mydocker (Ctrl-C, `kill`, a CI runner's
 * SIGTERM) on to the helper process that runs the command: the launcher, the
 * exec helper, unshare for rootless.
 */

/** What a user sends a foreground command, and mydocker passes on. */
export const FORWARDED_SIGNALS: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2']

/** Anything signals can be passed to: a ChildProcess, a node-pty terminal. */
export interface SignalTarget {
  kill(signal: NodeJS.Signals): unknown
}

/** A relay from start to stop; see relaySignals. */
export interface SignalRelay {
  /** From now on signals go to `target`, and any that came before it go first. */
  attach(target: SignalTarget): void
  /** Stops listening; node's default actions apply again. */
  stop(): void
}

/**
 * Starts listening for `signals` before the helper exists, so one that arrives
 * while it is being started is passed on as soon as it is attached, instead of
 * ending mydocker by node's default action and leaving the helper's command to
 * run on unwatched. `passOn` may hold a signal back (a terminal's own Ctrl-C).
 */
export function relaySignals(signals: readonly NodeJS.Signals[] = FORWARDED_SIGNALS, passOn: (signal: NodeJS.Signals) => boolean = () => true): SignalRelay {
  let target: SignalTarget | undefined
  const early: NodeJS.Signals[] = []
  const handlers = signals.map((signal) => {
    const handler = () => {
      if (!passOn(signal)) return
      if (target) target.kill(signal)
      else early.push(signal)
    }
    process.on(signal, handler)
    return [signal, handler] as const
  })

  return {
    attach(next) {
      target = next
      for (const signal of early.splice(0)) next.kill(signal)
    },
    stop() {
      for (const [signal, handler] of handlers) process.off(signal, handler)
    },
  }
}
