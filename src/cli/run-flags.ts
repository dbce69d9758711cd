/**
 * The flags of `mydocker run`, declared once. The oclif command builds its flags
 * (help, manifest) from this table, and the fast path in fast-entry.ts parses
 * from the same table (flag-table.ts), so the two never disagree.
 */

import type {FlagSpec} from './flag-table.js'

export const RUN_FLAGS = {
  env: {type: 'string', char: 'e', multiple: true, description: "set an environment variable, K=V, or K to pass the caller's"},
  'env-file': {type: 'string', multiple: true, description: 'read environment variables from a file, one K=V per line'},
  workdir: {type: 'string', char: 'w', description: 'working directory inside the container (created when missing)'},
  entrypoint: {type: 'string', description: "override the image's entrypoint; an empty string clears it"},
  hostname: {type: 'string', char: 'h', description: 'container host name'},
  user: {type: 'string', char: 'u', description: 'user to run as: uid, uid:gid, name or name:group'},
  interactive: {type: 'boolean', char: 'i', description: 'keep stdin open'},
  tty: {type: 'boolean', char: 't', description: 'allocate a pseudo-terminal'},
  volume: {type: 'string', char: 'v', multiple: true, description: 'bind mount HOST:CONTAINER[:ro]'},
  tmpfs: {type: 'string', multiple: true, description: 'mount a tmpfs at PATH'},
  'read-only': {type: 'boolean', description: "mount the container's root read-only"},
  network: {type: 'string', options: ['host', 'none'], default: 'host', description: 'network: host (the host\'s) or none (only lo)'},
  memory: {type: 'string', char: 'm', description: 'memory limit, e.g. 64m, 1g'},
  'memory-swap': {type: 'string', description: 'memory plus swap limit; -1 for unlimited swap'},
  'pids-limit': {type: 'integer', description: 'maximum number of processes'},
  cpus: {type: 'string', description: 'number of CPUs, e.g. 0.5'},
  name: {type: 'string', description: 'name the container'},
  pull: {type: 'string', options: ['missing', 'always', 'never'], default: 'missing', description: 'pull policy'},
  platform: {type: 'string', description: 'platform to pull if the image is missing, os/arch[/variant]'},
  rm: {type: 'boolean', description: 'remove the container when it exits (always the case)'},
  init: {type: 'boolean', description: 'run an init as PID 1 that forwards signals and reaps zombies'},
  'cap-add': {type: 'string', multiple: true, description: 'add a Linux capability (or ALL)'},
  'cap-drop': {type: 'string', multiple: true, description: 'drop a Linux capability (or ALL)'},
  privileged: {type: 'boolean', description: 'give the container every capability and no masked paths'},
  'stop-timeout': {type: 'integer', default: 10, description: 'seconds to wait after SIGTERM before SIGKILL'},
  runtime: {type: 'string', options: ['builtin', 'runc'], default: 'builtin', description: 'runtime: builtin or runc'},
} as const satisfies Record<string, FlagSpec>

export type RunFlagName = keyof typeof RUN_FLAGS
