/** `whisper-napi doctor`: the install diagnosed; exits with 1 when the asked-for backend can't load. */
import { parseArgs } from 'node:util';
import { diagnose, formatDiagnosis } from '../../native/doctor';
import { parseGpuPreference } from '../../native/loader';
import type { Command } from '../command';

export const doctorCommand: Command = {
  name: 'doctor',
  usage: `  whisper-napi doctor [--json] [--gpu auto|cuda|cpu]
                                           platform, CPU features, the binaries found, CUDA driver and
                                           runtime, devices, and which binary 'auto' picks and why`,
  async run(args) {
    const { values } = parseArgs({ args, options: { json: { type: 'boolean' }, gpu: { type: 'string' } } });
    const gpu = values.gpu === undefined ? undefined : parseGpuPreference(values.gpu, '--gpu');
    const diagnosis = await diagnose({ gpu });
    process.stdout.write(values.json ? `${JSON.stringify(diagnosis, null, 2)}\n` : `${formatDiagnosis(diagnosis)}\n`);
    if ('error' in diagnosis.loaded) process.exitCode = 1;
  },
};
