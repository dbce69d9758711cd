// The ESM half of import-trace.mjs: runs on node's module hooks thread and
// records each module URL that is loaded.
import {appendFileSync} from 'node:fs'

/** Records `url` in BENCH_IMPORT_TRACE, then loads it as node would. */
export async function load(url, context, nextLoad) {
  if (url.startsWith('file:')) appendFileSync(process.env.BENCH_IMPORT_TRACE, `esm ${new URL(url).pathname}\n`)
  return nextLoad(url, context)
}
