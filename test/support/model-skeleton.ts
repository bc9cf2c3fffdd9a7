import { promises as fsp } from 'node:fs';
import { encodeTensorHeader } from '../../lib/model-files/writer';
import type { SyntheticModelPlan } from '../../lib/tools/synthetic-model';

/**
 * Writes a model's preamble and tensor headers where `plan` puts them and leaves the tensor data
 * as holes: a sparse file of the full size that costs almost no disk, so that the header-only
 * checks (inspectModelFile, readModelInfo) can be run on gigabyte-sized layouts.
 */
export async function writeSkeletonModel(plan: SyntheticModelPlan, file: string): Promise<void> {
  const fh = await fsp.open(file, 'w');
  try {
    await fh.write(plan.preamble, 0, plan.preamble.length, 0);
    for (const t of plan.tensors) {
      const header = encodeTensorHeader(t.name, t.shape, t.type);
      if (t.headerOffset + header.length !== t.offset) throw new Error(`plan offsets disagree for ${t.name}`);
      await fh.write(header, 0, header.length, t.headerOffset);
    }
    await fh.truncate(plan.fileSize);
  } finally {
    await fh.close();
  }
}
