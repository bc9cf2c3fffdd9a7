import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // Native work runs in child processes: a crash there fails a test, not the runner.
    pool: 'forks',
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts'],
          pool: 'forks',
          testTimeout: 60_000,
        },
      },
      {
        test: {
          name: 'native',
          include: ['test/native/**/*.test.ts'],
          pool: 'forks',
          // Builds or reuses whisper-cli and writes the synthetic models the suite shares.
          globalSetup: ['test/native/global-setup.ts'],
          // One file at a time: ggml's worker threads spin while waiting, so native test
          // files running side by side on a small machine slow each other down many times over.
          fileParallelism: false,
          testTimeout: 600_000,
          hookTimeout: 900_000,
        },
      },
    ],
  },
});
