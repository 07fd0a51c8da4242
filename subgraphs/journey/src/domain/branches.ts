// Which branch of a split or an experiment a contact takes: decided by a hash of the journey, the
// contact and the step, so a contact takes the same branch on every visit, every version and
// every executor, and the shares follow the weights.
import { createHash } from 'node:crypto';

/** The index of the branch, given the branches' weights (per cent, summing to 100). */
export function branchFor(journeyId: string, contactId: string, stepId: string, weights: readonly number[]): number {
  const digest = createHash('sha256').update(`${journeyId}:${contactId}:${stepId}`).digest();
  // 2^32 is not a multiple of 100: the first 96 buckets are favoured by about 2e-8.
  const bucket = digest.readUInt32BE(0) % 100;
  let upTo = 0;
  for (const [index, weight] of weights.entries()) {
    upTo += weight;
    if (bucket < upTo) return index;
  }
  // Weights that fall short of 100 are refused at publish; the remainder goes to the last branch.
  return weights.length - 1;
}
