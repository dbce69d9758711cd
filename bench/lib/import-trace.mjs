// Preloaded with `node --import` into a profiled mydocker process: appends
// the path of every module the process loads, ESM (through a load hook on
// node's hooks thread) and CommonJS (by wrapping Module._load), one per line,
// to the file named by BENCH_IMPORT_TRACE. Plain JS so no compiler runs in
// the traced process.
import {appendFileSync} from 'node:fs'
import Module, {register} from 'node:module'

const trace = process.env.BENCH_IMPORT_TRACE

if (trace) {
  register(new URL('./import-trace-hooks.mjs', import.meta.url))

  const load = Module._load
  Module._load = function traceLoad(request, parent, isMain) {
    const exported = load.call(this, request, parent, isMain)
    if (!request.startsWith('node:') && !Module.isBuiltin(request)) {
      try {
        appendFileSync(trace, `cjs ${Module._resolveFilename(request, parent, isMain)}\n`)
      } catch {
        // A request that resolved for load resolves again; if not, skip it.
      }
    }
    return exported
  }
}
