/**
 * Image references, parsed and normalised the way Docker does.
 *
 *   ubuntu                    -> docker.io/library/ubuntu:latest
 *   localhost:5000/a/b:1      -> registry localhost:5000, repository a/b, tag 1
 *   name@sha256:<hex>         -> pulled by digest; a digest wins over a tag
 *
 * The first path component is a registry host when it contains a `.` or a `:`, is
 * `localhost`, or has an uppercase letter; otherwise the image is on Docker Hub.
 */
import {invalidArgument} from '../errors.js'

/** Docker Hub's name in references, and the host its API is served from. */
export const DOCKER_HUB = 'docker.io'
export const DOCKER_HUB_API_HOST = 'registry-1.docker.io'

const DEFAULT_TAG = 'latest'
const COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/
const TAG = /^\w[\w.-]{0,127}$/
const DIGEST = /^(sha256:[a-f0-9]{64}|sha512:[a-f0-9]{128})$/
// A host name (labels of letters, digits and dashes), an IPv4 address, or a
// bracketed IPv6 address, with an optional port.
const HOST = /^(?:\[[0-9a-fA-F:.]+\]|[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*)(?::\d+)?$/
const MAX_NAME_LENGTH = 255

/** A parsed, normalised image reference. */
export interface Reference {
  /** Registry as written in references: `docker.io`, `localhost:5000`, `ghcr.io`. */
  readonly registry: string
  /** Repository path, `library/ubuntu` for official Docker Hub images. */
  readonly repository: string
  /** The tag; `latest` when neither tag nor digest was given. */
  readonly tag?: string
  /** The manifest digest, when the reference names one. */
  readonly digest?: string
}

/**
 * Parses what a user typed into a normalised Reference.
 * Throws INVALID_ARGUMENT naming the input and what is wrong with it.
 */
export function parseReference(input: string): Reference {
  const bad = (why: string) =>
    invalidArgument(`invalid reference format "${input}": ${why}`, {
      hint: 'a reference looks like [registry/]name[:tag][@sha256:digest], for example busybox:latest',
    })
  if (input.length === 0) throw bad('it is empty')
  if (/\s/.test(input)) throw bad('it contains white space')

  let rest = input
  let digest: string | undefined
  const at = rest.indexOf('@')
  if (at !== -1) {
    digest = rest.slice(at + 1)
    rest = rest.slice(0, at)
    if (!DIGEST.test(digest)) throw bad(`"${digest}" is not a valid digest`)
  }

  let tag: string | undefined
  const colon = rest.lastIndexOf(':')
  if (colon > rest.lastIndexOf('/')) {
    tag = rest.slice(colon + 1)
    rest = rest.slice(0, colon)
    if (!TAG.test(tag)) throw bad(`"${tag}" is not a valid tag`)
  }

  const {registry, path} = splitRegistry(rest)
  if (registry !== DOCKER_HUB && !HOST.test(registry)) throw bad(`"${registry}" is not a valid registry host`)
  if (path.length === 0) throw bad('the repository name is missing')
  if (path.length > MAX_NAME_LENGTH) throw bad(`the repository name is longer than ${MAX_NAME_LENGTH} characters`)
  if (path !== path.toLowerCase()) throw bad('repository name must be lowercase')
  for (const component of path.split('/')) {
    if (!COMPONENT.test(component)) throw bad(`"${component}" is not a valid repository name component`)
  }

  const repository = registry === DOCKER_HUB && !path.includes('/') ? `library/${path}` : path
  if (tag === undefined && digest === undefined) tag = DEFAULT_TAG
  return {registry, repository, tag, digest}
}

function splitRegistry(name: string): {registry: string; path: string} {
  const slash = name.indexOf('/')
  const first = slash === -1 ? '' : name.slice(0, slash)
  const isHost = slash !== -1 && (/[.:]/.test(first) || first === 'localhost' || first !== first.toLowerCase())
  if (!isHost) return {registry: DOCKER_HUB, path: name}

  const registry = first === 'index.docker.io' ? DOCKER_HUB : first
  return {registry, path: name.slice(slash + 1)}
}

/** `registry/repository`, the name images are listed under. */
export function repositoryName(reference: Reference): string {
  return `${reference.registry}/${reference.repository}`
}

/** The canonical string: `registry/repository[:tag][@digest]`. */
export function formatReference(reference: Reference): string {
  let text = repositoryName(reference)
  if (reference.tag !== undefined) text += `:${reference.tag}`
  if (reference.digest !== undefined) text += `@${reference.digest}`
  return text
}

/**
 * The name a pulled image is stored under. A digest wins over a tag, so a
 * reference with both is stored by digest alone, as Docker does.
 */
export function storedName(reference: Reference): string {
  if (reference.digest !== undefined) return `${repositoryName(reference)}@${reference.digest}`
  return `${repositoryName(reference)}:${reference.tag ?? DEFAULT_TAG}`
}

/**
 * The name shown to users: Docker Hub's official images without the
 * `docker.io/library/` prefix, others in full, as `docker images` prints them.
 */
export function familiarRepository(reference: Reference): string {
  if (reference.registry !== DOCKER_HUB) return repositoryName(reference)
  return reference.repository.startsWith('library/') ? reference.repository.slice('library/'.length) : reference.repository
}

/** The host the registry API is reached at (Docker Hub's differs from its name). */
export function apiHost(reference: Reference): string {
  return reference.registry === DOCKER_HUB ? DOCKER_HUB_API_HOST : reference.registry
}

/** True for registries on loopback, which are reached over plain HTTP as Docker does. */
export function isLoopbackRegistry(host: string): boolean {
  const hostname = host.startsWith('[') ? host.slice(1, host.indexOf(']')) : host.replace(/:\d+$/, '')
  return hostname === 'localhost' || hostname === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(hostname)
}
