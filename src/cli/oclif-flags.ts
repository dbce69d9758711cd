/** oclif flag definitions built from a flag table (flag-table.ts), for help and the manifest. */
import {Flags, type Interfaces} from '@oclif/core'
import type {FlagTable} from './flag-table.js'

export function oclifFlags(table: FlagTable): Interfaces.FlagInput {
  const flags: Interfaces.FlagInput = {}
  for (const [name, spec] of Object.entries(table)) {
    const common = {char: spec.char as 'e' | undefined, description: spec.description}
    if (spec.type === 'boolean') flags[name] = Flags.boolean(common)
    else if (spec.type === 'integer') flags[name] = Flags.integer({...common, default: spec.default as number | undefined})
    // Non-greedy: `-e X IMAGE cmd` must not take IMAGE as a second value of -e.
    else if (spec.multiple) flags[name] = Flags.string({...common, multiple: true, multipleNonGreedy: true})
    else flags[name] = Flags.string({...common, options: spec.options as string[] | undefined, default: spec.default as string | undefined})
  }
  return flags
}
