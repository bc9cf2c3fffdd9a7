/** `whisper-napi devices`: the compute devices ggml sees and what this binary was built with. */
import { getDevices, getSystemInfo } from '../../native/system';
import type { Command } from '../command';

export const devicesCommand: Command = {
  name: 'devices',
  usage: '  whisper-napi devices                     list compute devices and build info',
  async run() {
    process.stdout.write(`${JSON.stringify({ system: getSystemInfo(), devices: getDevices() }, null, 2)}\n`);
  },
};
