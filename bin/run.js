#!/usr/bin/env node
// The mydocker entry point. oclif reads oclif.manifest.json, so no command
// module is imported until the one asked for is run.
import {execute} from '@oclif/core'

await execute({dir: import.meta.url})
