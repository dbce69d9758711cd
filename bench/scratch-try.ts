import {startRegistry} from '../test/support/registry.ts'
import {seedImages} from '../test/support/images.ts'
const registry = await startRegistry()
const images = await seedImages(registry.host, ['busybox', 'debian', 'debianSingle'])
console.log(JSON.stringify(images))
await new Promise((r) => setTimeout(r, 1_200_000))
