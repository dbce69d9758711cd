import {Args, Command, Flags} from '@oclif/core'
import {reportError} from '../cli/report-error.js'
import {invalidArgument} from '../errors.js'

/** `mydocker login`: checks credentials with the registry and saves them where Docker does. */
export default class Login extends Command {
  static override summary = 'Log in to a registry.'
  static override description = `Checks the user name and password with the registry (GET /v2/ with them) and
saves them in Docker's config.json ($DOCKER_CONFIG/config.json, default ~/.docker/config.json),
in a credential helper when one is configured there. Without REGISTRY, logs in to Docker Hub.`

  static override examples = [
    'echo "$TOKEN" | <%= config.bin %> login -u alice --password-stdin ghcr.io',
    '<%= config.bin %> login -u alice localhost:5000',
  ]

  static override args = {
    registry: Args.string({description: 'registry host[:port]; Docker Hub when absent'}),
  }

  static override flags = {
    username: Flags.string({char: 'u', description: 'user name'}),
    'password-stdin': Flags.boolean({description: 'read the password from standard input'}),
  }

  async run(): Promise<void> {
    const {args, flags} = await this.parse(Login)
    const username = flags.username ?? (await prompt('Username: ', false))
    const password = flags['password-stdin'] ? await readPasswordFromStdin() : await prompt('Password: ', true)

    const {login} = await import('../registry/login.js')
    await login({registry: args.registry, username, password})
    this.log('Login Succeeded')
  }

  protected override async catch(error: Error & {exitCode?: number}): Promise<void> {
    reportError(error)
  }
}

/** The whole of standard input, without the final line break. */
async function readPasswordFromStdin(): Promise<string> {
  const chunks: Buffer[] = []
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer)
  return Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '')
}

/** Asks on the terminal; the answer to a secret question is not echoed. */
async function prompt(question: string, secret: boolean): Promise<string> {
  if (!process.stdin.isTTY) {
    throw invalidArgument(`cannot ask for the ${secret ? 'password' : 'user name'}: standard input is not a terminal`, {
      hint: 'pass the user name with -u and the password on stdin with --password-stdin',
    })
  }

  const {createInterface} = await import('node:readline')
  const terminal = createInterface({input: process.stdin, output: process.stderr, terminal: true})
  if (secret) {
    // Write the question, then swallow the echo of what is typed.
    process.stderr.write(question)
    ;(terminal as unknown as {_writeToOutput: (text: string) => void})._writeToOutput = () => {}
  }
  return new Promise((resolve) => {
    terminal.question(secret ? '' : question, (answer) => {
      terminal.close()
      if (secret) process.stderr.write('\n')
      resolve(answer)
    })
  })
}
