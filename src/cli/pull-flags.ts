/** The flags of `mydocker pull`, declared once (see flag-table.ts). */
import type {FlagSpec} from './flag-table.js'

export const PULL_FLAGS = {
  platform: {type: 'string', description: 'platform to pull from an index, os/arch[/variant]'},
  quiet: {type: 'boolean', char: 'q', description: 'print only the image digest'},
  file: {type: 'string', char: 'f', description: 'read references from FILE, one per line (# starts a comment)'},
  json: {type: 'boolean', description: 'print one JSON object per image'},
} as const satisfies Record<string, FlagSpec>
