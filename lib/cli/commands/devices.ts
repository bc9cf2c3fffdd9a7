/** `whisper-napi devices`: the compute devices ggml sees and what this binary was built with. */
import { getDevices, getSystemInfo } from '../../native/system';
import { parseCommandArgs } from '../args';
import type { Command } from '../command';

export const devicesCommand: Command = {
  name: 'devices',
  synopsis: 'devices',
  summary: 'compute devices and build info (JSON)',
  usage: `Usage: whisper-napi devices

  Lists the compute devices ggml sees and what this binary was built with, as JSON.

  -h, --help   this help`,
  async run(args) {
    parseCommandArgs(args, {}, false);
    process.stdout.write(`${JSON.stringify({ system: getSystemInfo(), devices: getDevices() }, null, 2)}\n`);
  },
};
