import {Args, Command} from '@oclif/core'
import {reportError} from '../cli/report-error.js'

/** `mydocker logout`: forgets the credentials saved for a registry. */
export default class Logout extends Command {
  static override summary = 'Log out from a registry.'
  static override description = `Removes the credentials saved for REGISTRY from Docker's config.json (and from its
credential helper when one is configured). Without REGISTRY, logs out from Docker Hub.`

  static override examples = ['<%= config.bin %> logout localhost:5000']

  static override args = {
    registry: Args.string({description: 'registry host[:port]; Docker Hub when absent'}),
  }

  async run(): Promise<void> {
    const {args} = await this.parse(Logout)
    const {logout} = await import('../registry/login.js')
    const {name, removed} = await logout(args.registry)
    this.log(removed ? `Removing login credentials for ${name}` : `Not logged in to ${name}`)
  }

  protected override async catch(error: Error & {exitCode?: number}): Promise<void> {
    reportError(error)
  }
}
