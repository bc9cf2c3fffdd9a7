/**
 * One model and one pool per GPU: loadModelGroup loads the same file once per device and
 * routes each call to the member with the most free slots, so a machine with several GPUs is
 * used as one model. Without a GPU the group is one CPU model.
 */
import type { AudioInput } from '../audio/pcm';
import { invalidArgument, WhisperError } from '../errors/whisper-error';
import { optionsObject } from '../errors/validate';
import { native } from '../native/addon';
import type { LoadModelOptions, TranscribeOptions } from '../transcription/options';
import type { Segment, Transcript } from '../transcription/transcript';
import type { PcmChunk } from '../stream/chunks';
import type { StreamOptions } from '../stream/options';
import { gpuDevices, selectDevice, type ModelDevice } from './devices';
import type { ModelStats } from './stats';
import { loadModel } from './whisper-model';

/** The GPUs to load on: every GPU ggml reports, or these indices (as `gpuDevice` counts them). */
export type GroupDevices = 'all' | readonly number[];

export interface LoadModelGroupOptions extends Omit<LoadModelOptions, 'gpuDevice'> {
  /** Default 'all'. With `gpu: false`, or when there is no GPU and 'all' is asked for, the group is one CPU model. */
  devices?: GroupDevices;
}

/** What a group needs of each member: a WhisperModel, or anything shaped like one (tests use a fake). */
export interface ModelGroupMember {
  readonly concurrency: number;
  readonly disposed: boolean;
  transcribe(audio: AudioInput, options?: TranscribeOptions): Promise<Transcript>;
  transcribeStream(source: AsyncIterable<PcmChunk> | Iterable<PcmChunk>, options?: StreamOptions): AsyncGenerator<Segment>;
  stats(): ModelStats;
  dispose(): Promise<void>;
}

export interface DeviceStats {
  /** The member's place in the group (the order of `devices`). */
  member: number;
  device: ModelDevice;
  stats: ModelStats;
}

export interface ModelGroupStats {
  devices: DeviceStats[];
  /**
   * Every member's figures added up. The peaks are the sum of the members' peaks: an upper
   * bound of the group's, since members may have peaked at different times.
   */
  total: ModelStats;
}

const SUMMED_STATS = [
  'running',
  'queued',
  'completed',
  'failed',
  'aborted',
  'timedOut',
  'rejected',
  'peakRunning',
  'peakQueued',
  'concurrency',
  'maxQueue',
  'states',
] as const;

export class ModelGroup implements AsyncDisposable {
  readonly #members: readonly ModelGroupMember[];
  readonly #devices: readonly ModelDevice[];
  /** Calls routed to each member and not settled yet: counted here at once, before a member's own stats can show them. */
  readonly #inFlight: number[];
  #nextTurn = 0;
  #disposing: Promise<void> | undefined;

  /** loadModelGroup builds one; anything shaped like a model can be grouped (`devices[i]` describes `members[i]`). */
  constructor(members: readonly ModelGroupMember[], devices: readonly ModelDevice[]) {
    if (members.length === 0 || members.length !== devices.length) throw invalidArgument('members', 'one or more members, each with its device', members);
    this.#members = [...members];
    this.#devices = [...devices];
    this.#inFlight = members.map(() => 0);
  }

  get size(): number {
    return this.#members.length;
  }

  get devices(): readonly ModelDevice[] {
    return this.#devices;
  }

  /** Every member's concurrency added up: the most calls that run at once without waiting. */
  get concurrency(): number {
    return this.#members.reduce((sum, member) => sum + member.concurrency, 0);
  }

  get disposed(): boolean {
    return this.#disposing !== undefined;
  }

  /** Transcribes on the member with the most free slots (see `route`). */
  async transcribe(audio: AudioInput, options?: TranscribeOptions): Promise<Transcript> {
    const index = this.#route();
    this.#inFlight[index]++;
    try {
      return await this.#members[index].transcribe(audio, options);
    } finally {
      this.#inFlight[index]--;
    }
  }

  /** A live stream stays on one member, chosen as a call is, for all its windows. */
  async *transcribeStream(source: AsyncIterable<PcmChunk> | Iterable<PcmChunk>, options?: StreamOptions): AsyncGenerator<Segment> {
    const index = this.#route();
    this.#inFlight[index]++;
    try {
      yield* this.#members[index].transcribeStream(source, options);
    } finally {
      this.#inFlight[index]--;
    }
  }

  stats(): ModelGroupStats {
    const devices = this.#members.map((member, index) => ({ member: index, device: this.#devices[index], stats: member.stats() }));
    const total = Object.fromEntries(SUMMED_STATS.map((key) => [key, devices.reduce((sum, entry) => sum + entry.stats[key], 0)])) as unknown as ModelStats;
    return { devices, total };
  }

  /** Disposes every member (each rejects its queued jobs with DISPOSED and aborts its running ones). Safe to call more than once. */
  dispose(): Promise<void> {
    this.#disposing ??= Promise.all(this.#members.map((member) => member.dispose())).then(() => undefined);
    return this.#disposing;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.dispose();
  }

  /**
   * The member with the most free slots (its concurrency less the calls it has, running or
   * waiting); on a tie the one with fewest running, then the next in turn, so equal members
   * take calls round-robin.
   */
  #route(): number {
    if (this.#disposing) throw new WhisperError('DISPOSED', 'the model group has been disposed');
    const loads = this.#members.map((member, index) => {
      const stats = member.stats();
      const busy = Math.max(this.#inFlight[index], stats.running + stats.queued);
      return { index, free: member.concurrency - busy, running: stats.running };
    });
    const order = loads.map((_, offset) => loads[(this.#nextTurn + offset) % loads.length]);
    const best = order.reduce((a, b) => (b.free > a.free || (b.free === a.free && b.running < a.running) ? b : a));
    this.#nextTurn = (best.index + 1) % loads.length;
    return best.index;
  }
}

/** The GPU indices to load on, checked; [] when the group is one CPU model. */
export function groupGpuIndices(devices: unknown, gpu: boolean, gpuCount: number): number[] {
  if (devices === undefined || devices === 'all') return gpu ? Array.from({ length: gpuCount }, (_, index) => index) : [];
  const expected =
    gpuCount === 0 ? "'all' (ggml reports no GPU, so the group is one CPU model)" : `'all' or a non-empty array of distinct GPU indices from 0 to ${gpuCount - 1}`;
  if (!gpu) throw invalidArgument('options.devices', "'all' (options.gpu is false, so the group is one CPU model)", devices);
  if (!Array.isArray(devices) || devices.length === 0) throw invalidArgument('options.devices', expected, devices);
  devices.forEach((index: unknown, position) => {
    if (typeof index !== 'number' || !Number.isInteger(index) || index < 0 || index >= gpuCount || devices.indexOf(index) !== position) {
      throw invalidArgument(`options.devices[${position}]`, expected, index);
    }
  });
  return [...(devices as number[])];
}

/**
 * Loads the model once per GPU (`devices`: 'all' or indices) and returns them as one
 * ModelGroup; without a GPU, one CPU model. Every other option applies to each member (so
 * `concurrency` is per device). If one member fails to load, the others are disposed and the
 * error is thrown.
 */
export async function loadModelGroup(pathOrName: string, options?: LoadModelGroupOptions): Promise<ModelGroup> {
  const { devices, ...loadOptions } = optionsObject('options', options) as LoadModelGroupOptions;
  if ((loadOptions as LoadModelOptions).gpuDevice !== undefined)
    throw invalidArgument('options.gpuDevice', 'no gpuDevice in a group (use options.devices)', (loadOptions as LoadModelOptions).gpuDevice);
  const gpu = loadOptions.gpu !== false;
  const nativeDevices = native().getDevices();
  const indices = groupGpuIndices(devices, gpu, gpuDevices(nativeDevices).length);
  const memberOptions: LoadModelOptions[] =
    indices.length === 0 ? [{ ...loadOptions, gpu: false }] : indices.map((gpuDevice) => ({ ...loadOptions, gpu: true, gpuDevice }));
  const loads = await Promise.allSettled(memberOptions.map((memberLoad) => loadModel(pathOrName, memberLoad)));
  const failure = loads.find((load): load is PromiseRejectedResult => load.status === 'rejected');
  if (failure) {
    await Promise.all(loads.map((load) => (load.status === 'fulfilled' ? load.value.dispose() : Promise.resolve())));
    throw failure.reason as Error;
  }
  const members = loads.map((load) => (load as PromiseFulfilledResult<ModelGroupMember>).value);
  return new ModelGroup(
    members,
    memberOptions.map((memberLoad) => selectDevice(nativeDevices, { gpu: memberLoad.gpu ?? true, gpuDevice: memberLoad.gpuDevice ?? 0 })),
  );
}
