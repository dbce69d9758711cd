/**
 * Chain IDs (image-spec, config.md "Layer ChainID"): the identity of a stack of
 * layers. ChainID(L0) = DiffID(L0); ChainID(L0..Ln) = sha256(ChainID(L0..Ln-1) + " " + DiffID(Ln)).
 * A snapshot is keyed by its chain ID, so images that share base layers share
 * the snapshots of those layers.
 */
import {createHash} from 'node:crypto'

/** The chain ID of each prefix of `diffIds`, bottom layer first. */
export function chainIds(diffIds: readonly string[]): string[] {
  const chains: string[] = []
  for (const diffId of diffIds) {
    const parent = chains.at(-1)
    chains.push(parent === undefined ? diffId : `sha256:${createHash('sha256').update(`${parent} ${diffId}`).digest('hex')}`)
  }
  return chains
}
