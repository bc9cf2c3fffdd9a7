#!/usr/bin/env python3
"""Transcribes clips with faster-whisper (CTranslate2), for the side-by-side benchmark in
scripts/bench-wer.mjs and scripts/bench-vs-peers.mjs. Reads {"model": dir, "computeType": ...,
"threads": n, "wavs": [...]} on stdin, with an optional "batchSize": n, and prints
{"loadSeconds": s, "results": [{"wav", "text", "seconds"}]} on stdout.

Decoding matches whisper.cpp's defaults as the addon uses them: greedy (beam 1, best_of 5 for the
temperature fallback), temperatures 0.0 to 1.0 in steps of 0.2, timestamps on, no VAD, English.

With "batchSize", each file goes through faster-whisper's BatchedInferencePipeline instead, as its
batched mode is meant to be used: Silero VAD cuts the speech into chunks of up to 30 s, silence
skipped, and batchSize chunks are decoded at once, without timestamps (the pipeline's defaults);
greedy, the same temperatures, English.
"""
import json
import sys
import time

from faster_whisper import BatchedInferencePipeline, WhisperModel


def main() -> None:
    job = json.load(sys.stdin)
    t0 = time.perf_counter()
    model = WhisperModel(job["model"], device="cpu", compute_type=job["computeType"], cpu_threads=job["threads"], num_workers=1)
    batch_size = job.get("batchSize")
    pipeline = BatchedInferencePipeline(model) if batch_size else None
    load_seconds = time.perf_counter() - t0
    results = []
    for wav in job["wavs"]:
        t = time.perf_counter()
        if pipeline is not None:
            segments, _ = pipeline.transcribe(wav, language="en", beam_size=1, best_of=5, temperature=[0.0, 0.2, 0.4, 0.6, 0.8, 1.0], batch_size=batch_size)
        else:
            segments, _ = model.transcribe(
                wav,
                language="en",
                beam_size=1,
                best_of=5,
                temperature=[0.0, 0.2, 0.4, 0.6, 0.8, 1.0],
                without_timestamps=False,
                vad_filter=False,
            )
        text = "".join(s.text for s in segments)  # the generator runs the decoding
        results.append({"wav": wav, "text": text.strip(), "seconds": time.perf_counter() - t})
    json.dump({"loadSeconds": load_seconds, "results": results}, sys.stdout)


if __name__ == "__main__":
    main()
