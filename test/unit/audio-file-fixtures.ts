/**
 * Paths that make real file-system errors, for the audio file-error tests. The tests run as
 * root here, and root reads a chmod 000 file anyway, so an unreadable file also comes from
 * the kernel: a write-only sysfs attribute fails open() with EACCES even for root, and
 * /proc/self/mem fails read() at offset 0 with EIO. Each is used only where it really fails.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

function openFails(file: string, code: string): boolean {
  try {
    fs.closeSync(fs.openSync(file, 'r'));
    return false;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === code;
  }
}

function readFails(file: string, code: string): boolean {
  try {
    fs.readFileSync(file);
    return false;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === code;
  }
}

/** A file open() refuses with EACCES: chmod 000 where that stops us, else a write-only sysfs file. */
export function permissionDeniedFile(dir: string): string | undefined {
  const file = path.join(dir, 'no-permission.wav');
  fs.writeFileSync(file, 'RIFF');
  fs.chmodSync(file, 0o000);
  if (openFails(file, 'EACCES')) return file;
  return ['/sys/bus/pci/rescan', '/sys/bus/pci/drivers_probe'].find((f) => fs.existsSync(f) && openFails(f, 'EACCES'));
}

/** A regular file that opens but whose read fails with EIO. */
export function ioErrorFile(): string | undefined {
  const file = '/proc/self/mem';
  return fs.existsSync(file) && fs.statSync(file).isFile() && readFails(file, 'EIO') ? file : undefined;
}

/** A named pipe (undefined where mkfifo is not there). */
export function fifo(dir: string): string | undefined {
  const file = path.join(dir, 'pipe.wav');
  try {
    execFileSync('mkfifo', [file]);
    return file;
  } catch {
    return undefined;
  }
}
