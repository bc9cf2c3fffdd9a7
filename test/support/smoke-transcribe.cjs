// Transcribes one clip with the whisper-napi package at argv[2] and prints one JSON line:
// the text, the binary and CPU variant that ran it. Plain CommonJS with no test framework,
// so it runs under qemu-user and in a freshly installed temporary project alike.
//   node smoke-transcribe.cjs <package dir or name> <model.bin> <audio.wav> [audioContext]
const [, , packageSpec, modelPath, audioPath, audioContext] = process.argv;

(async () => {
  const whisper = require(packageSpec);
  const info = await whisper.loadBackend();
  const model = await whisper.loadModel(modelPath, { gpu: false, concurrency: 1 });
  try {
    const options = { threads: 2, language: 'en' };
    if (audioContext) options.audioContext = Number(audioContext);
    const result = await model.transcribe(audioPath, options);
    process.stdout.write(
      `${JSON.stringify({
        text: result.text.trim(),
        binary: info.binary,
        cpuVariant: info.cpuVariant,
        cpuFeatures: info.backends.find((b) => b.name === 'CPU')?.features ?? {},
      })}\n`,
    );
  } finally {
    await model.dispose();
  }
})().catch((error) => {
  process.stderr.write(`${error.code ?? ''} ${error.stack ?? error}\n`);
  process.exit(1);
});
