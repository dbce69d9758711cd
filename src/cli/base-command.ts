/**
 * The base of every mydocker command: the global flags, the store, and error
 * reporting through report-error.ts.
 */
import {Command, Flags} from '@oclif/core'
import {resolveStoreRoot} from '../store/root.js'
import {reportError, type CommandError} from './report-error.js'
import type {Store} from '../store/store.js'

export abstract class BaseCommand extends Command {
  static override baseFlags = {
    root: Flags.string({
      description: 'store directory (default: /var/lib/mydocker as root, ~/.local/share/mydocker otherwise; env MYDOCKER_ROOT)',
      helpGroup: 'GLOBAL',
    }),
  }

  private openedStore?: Store

  /** Opens the store named by --root / MYDOCKER_ROOT / the default, once per command. */
  protected async store(root: string | undefined): Promise<Store> {
    if (this.openedStore) return this.openedStore
    const {openStore} = await import('../store/store.js')
    this.openedStore = openStore(resolveStoreRoot(root))
    return this.openedStore
  }

  protected override async catch(error: CommandError): Promise<void> {
    reportError(error, process.stderr, {command: this.id})
  }

  protected override async finally(error: Error | undefined): Promise<void> {
    this.openedStore?.close()
    await super.finally(error)
  }
}
