/**
 * The `pull` command's work between flags and the pull service: collecting the
 * references (arguments and -f FILE), pulling them concurrently within a
 * bound, drawing progress, and printing one result per image.
 */
import {readFileSync} from 'node:fs'
import {invalidArgument, MydockerError} from '../errors.js'
import {parsePlatform} from '../image/platform.js'
import {formatReference, parseReference, type Reference} from '../reference/reference.js'
import {createRegistryClient} from '../registry/client.js'
import {pullImage, type PullResult} from '../service/pull.js'
import type {Store} from '../store/store.js'
import {reportError} from './report-error.js'
import {createPullProgress} from './pull-progress.js'

/** How many images one `pull` fetches at once. */
const IMAGE_CONCURRENCY = 4

export interface PullCommandOptions {
  references: string[]
  file?: string
  platform?: string
  quiet: boolean
  json: boolean
  stdout: NodeJS.WriteStream
  stderr: NodeJS.WriteStream
}

/** Pulls every reference asked for; resolves with the exit status. */
export async function pullCommand(store: Store, options: PullCommandOptions): Promise<number> {
  const inputs = [...options.references, ...(options.file ? readReferenceFile(options.file) : [])]
  if (inputs.length === 0) throw invalidArgument('pull needs at least one image reference', {hint: 'mydocker pull busybox'})
  // Parse everything first: a typo fails the command before any download starts.
  const references = inputs.map((input) => parseReference(input))
  const platform = options.platform === undefined ? undefined : parsePlatform(options.platform)
  const registry = createRegistryClient()

  const {default: pLimit} = await import('p-limit')
  const limit = pLimit(IMAGE_CONCURRENCY)
  const single = references.length === 1
  const outcomes = await Promise.all(
    references.map((reference, position) =>
      limit(() => pullOne(store, reference, {registry, platform, options, showProgress: single && !options.quiet && !options.json}))
        .then((result) => ({input: inputs[position], result, error: undefined}))
        .catch((error: Error) => ({input: inputs[position], result: undefined, error})),
    ),
  )

  const failed = outcomes.filter((outcome) => outcome.error)
  for (const outcome of outcomes) printOutcome(outcome, options, single)
  if (failed.length === 0) return 0
  if (!single) options.stderr.write(`mydocker: ${failed.length} of ${outcomes.length} pulls failed: ${failed.map((o) => o.input).join(', ')}\n`)
  return 125
}

interface PullOneContext {
  registry: ReturnType<typeof createRegistryClient>
  platform?: ReturnType<typeof parsePlatform>
  options: PullCommandOptions
  showProgress: boolean
}

async function pullOne(store: Store, reference: Reference, context: PullOneContext): Promise<PullResult> {
  const progress = context.showProgress ? await createPullProgress(context.options.stderr, formatReference(reference)) : undefined
  try {
    return await pullImage(store, reference, {
      registry: context.registry,
      platform: context.platform,
      onEvent: progress ? (event) => progress.onEvent(event) : undefined,
    })
  } finally {
    progress?.stop()
  }
}

function printOutcome(
  outcome: {input: string; result?: PullResult; error?: Error},
  options: PullCommandOptions,
  single: boolean,
): void {
  const {result, error} = outcome
  if (options.json) {
    const line = result
      ? {reference: outcome.input, name: result.name, digest: result.manifestDigest, id: result.configDigest, status: result.upToDate ? 'up to date' : 'downloaded'}
      : {reference: outcome.input, error: error!.message, code: error instanceof MydockerError ? error.code : 'INTERNAL'}
    options.stdout.write(`${JSON.stringify(line)}\n`)
    return
  }
  if (error) {
    // With one reference the message names it already.
    reportError(error, options.stderr, {subject: single ? undefined : outcome.input})
    return
  }
  if (options.quiet) {
    options.stdout.write(`${result!.manifestDigest}\n`)
    return
  }
  options.stderr.write(`Digest: ${result!.manifestDigest}\n`)
  options.stderr.write(`Status: ${result!.upToDate ? 'Image is up to date' : 'Downloaded newer image'} for ${result!.name}\n`)
  options.stdout.write(`${result!.name}\n`)
}

function readReferenceFile(file: string): string[] {
  let text: string
  try {
    text = file === '-' ? readFileSync(0, 'utf8') : readFileSync(file, 'utf8')
  } catch (error) {
    throw invalidArgument(`cannot read reference file "${file}": ${(error as Error).message}`)
  }
  return text
    .split('\n')
    .map((line) => line.replace(/#.*/, '').trim())
    .filter((line) => line.length > 0)
}
