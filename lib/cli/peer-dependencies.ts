/**
 * The optional peer dependencies a command needs (busboy, ws and prom-client for serve; bullmq
 * and ioredis for worker and submit), checked before the module that loads them: one line
 * naming what to install, instead of a MODULE_NOT_FOUND stack from deep inside.
 */
function isInstalled(name: string): boolean {
  try {
    require.resolve(name);
    return true;
  } catch {
    return false;
  }
}

function spoken(names: readonly string[]): string {
  return names.length === 1 ? names[0]! : `${names.slice(0, -1).join(', ')} and ${names.at(-1)!}`;
}

export function requirePeerDependencies(command: string, names: readonly string[]): void {
  const missing = names.filter((name) => !isInstalled(name));
  if (missing.length === 0) return;
  throw Object.assign(new Error(`${command} needs the optional dependencies ${spoken(names)} (missing: ${missing.join(', ')}): npm install ${names.join(' ')}`), {
    code: 'MISSING_DEPENDENCY',
  });
}
