/** `whisper-napi doctor`: the install diagnosed; exits with 1 when the asked-for backend can't load. */
import { diagnose, formatDiagnosis } from '../../native/doctor';
import { parseGpuPreference } from '../../native/loader';
import { parseCommandArgs } from '../args';
import type { Command } from '../command';

export const doctorCommand: Command = {
  name: 'doctor',
  synopsis: 'doctor [--json] [--gpu <g>]',
  summary: 'diagnose the install: binaries, CUDA, devices',
  usage: `Usage: whisper-napi doctor [--json] [--gpu auto|cuda|cpu]

  Platform, CPU features, the binaries found, CUDA driver and runtime, devices, and which
  binary 'auto' picks and why. Exits with 1 when the asked-for backend cannot load.

  --json              the diagnosis as JSON
  --gpu <preference>  auto (default), cuda or cpu
  -h, --help          this help`,
  async run(args) {
    const { values } = parseCommandArgs(args, { json: { type: 'boolean' }, gpu: { type: 'string' } }, false);
    const gpu = values.gpu === undefined ? undefined : parseGpuPreference(values.gpu, '--gpu');
    const diagnosis = await diagnose({ gpu });
    process.stdout.write(values.json ? `${JSON.stringify(diagnosis, null, 2)}\n` : `${formatDiagnosis(diagnosis)}\n`);
    if ('error' in diagnosis.loaded) process.exitCode = 1;
  },
};
