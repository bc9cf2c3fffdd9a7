/* global document, window, location, navigator, localStorage, Option, WebSocket, AudioContext, AudioWorkletNode */
// The page: a file upload to POST v1/audio/transcriptions (verbose_json), and a live mode that
// sends the microphone as 16 kHz s16 over the v1/audio/stream WebSocket. Every URL is relative,
// so the page also works where an app mounts the handler under a path of its own.
'use strict';

(() => {
  const KEY_STORAGE = 'whisper-napi.apiKey';
  const byId = (id) => document.getElementById(id);

  const elements = {
    apiKey: byId('api-key'),
    model: byId('model'),
    language: byId('language'),
    settings: byId('settings'),
    error: byId('error'),
    file: byId('file'),
    fileName: byId('file-name'),
    drop: byId('drop'),
    form: byId('upload-form'),
    transcribe: byId('transcribe'),
    fileStatus: byId('file-status'),
    fileResult: byId('file-result'),
    fileSegments: byId('file-segments'),
    liveToggle: byId('live-toggle'),
    liveWindow: byId('live-window'),
    liveStatus: byId('live-status'),
    liveLevel: byId('live-level'),
    liveResult: byId('live-result'),
    liveSegments: byId('live-segments'),
  };

  // Settings

  elements.apiKey.value = localStorage.getItem(KEY_STORAGE) ?? '';
  elements.apiKey.addEventListener('change', () => {
    const key = apiKey();
    if (key) localStorage.setItem(KEY_STORAGE, key);
    else localStorage.removeItem(KEY_STORAGE);
    void loadModels();
  });

  function apiKey() {
    return elements.apiKey.value.trim();
  }

  function authHeaders() {
    const key = apiKey();
    return key ? { Authorization: `Bearer ${key}` } : {};
  }

  function language() {
    const code = elements.language.value.trim().toLowerCase();
    return code === '' ? 'auto' : code;
  }

  async function loadModels() {
    try {
      const response = await fetch('v1/models', { headers: authHeaders() });
      if (!response.ok) return;
      const { data } = await response.json();
      if (!Array.isArray(data) || data.length === 0) return;
      const chosen = elements.model.value;
      elements.model.replaceChildren(...data.map((model) => new Option(model.id, model.id)));
      if (data.some((model) => model.id === chosen)) elements.model.value = chosen;
    } catch {
      // The list is a convenience: whisper-1 always reaches the default model.
    }
  }

  // Errors

  function showError(message) {
    elements.error.textContent = message;
    elements.error.hidden = false;
    if (/api key/i.test(message)) elements.settings.open = true;
  }

  function clearError() {
    elements.error.hidden = true;
    elements.error.textContent = '';
  }

  // Tabs

  const tabs = [...document.querySelectorAll('[role="tab"]')];

  function selectTab(selected) {
    for (const tab of tabs) {
      const isSelected = tab === selected;
      tab.setAttribute('aria-selected', String(isSelected));
      tab.tabIndex = isSelected ? 0 : -1;
      byId(tab.getAttribute('aria-controls')).hidden = !isSelected;
    }
  }

  for (const tab of tabs) {
    tab.addEventListener('click', () => selectTab(tab));
    tab.addEventListener('keydown', (event) => {
      if (event.key !== 'ArrowRight' && event.key !== 'ArrowLeft') return;
      const next = tabs[(tabs.indexOf(tab) + (event.key === 'ArrowRight' ? 1 : tabs.length - 1)) % tabs.length];
      selectTab(next);
      next.focus();
    });
  }

  // Times and transcript formats

  function clock(seconds, separator) {
    const ms = Math.max(0, Math.round(seconds * 1000));
    const pad = (value, width) => String(value).padStart(width, '0');
    return `${pad(Math.floor(ms / 3600000), 2)}:${pad(Math.floor(ms / 60000) % 60, 2)}:${pad(Math.floor(ms / 1000) % 60, 2)}${separator}${pad(ms % 1000, 3)}`;
  }

  function shortClock(seconds) {
    const tenths = Math.max(0, Math.round(seconds * 10));
    const minutes = Math.floor(tenths / 600);
    const rest = ((tenths % 600) / 10).toFixed(1).padStart(4, '0');
    return `${minutes}:${rest}`;
  }

  const FORMATS = {
    srt: {
      type: 'application/x-subrip',
      write: (segments) => segments.map((s, i) => `${i + 1}\n${clock(s.start, ',')} --> ${clock(s.end, ',')}\n${s.text.trim()}\n`).join('\n'),
    },
    vtt: {
      type: 'text/vtt',
      write: (segments) => `WEBVTT\n\n${segments.map((s) => `${clock(s.start, '.')} --> ${clock(s.end, '.')}\n${s.text.trim()}\n`).join('\n')}`,
    },
    txt: {
      type: 'text/plain',
      write: (segments) => `${segments.map((s) => s.text.trim()).join('\n')}\n`,
    },
  };

  function download(segments, format, baseName) {
    const { type, write } = FORMATS[format];
    const link = document.createElement('a');
    link.href = URL.createObjectURL(new Blob([write(segments)], { type: `${type};charset=utf-8` }));
    link.download = `${baseName}.${format}`;
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(link.href), 10_000);
  }

  function segmentItem(segment) {
    const item = document.createElement('li');
    const time = document.createElement('time');
    time.textContent = `${shortClock(segment.start)} – ${shortClock(segment.end)}`;
    time.dateTime = `PT${segment.start.toFixed(3)}S`;
    const text = document.createElement('span');
    text.className = 'text';
    text.textContent = segment.text.trim();
    item.append(time, text);
    return item;
  }

  function wireDownloads(result, segmentsOf, baseNameOf) {
    for (const button of result.querySelectorAll('[data-download]')) {
      button.addEventListener('click', () => download(segmentsOf(), button.dataset.download, baseNameOf()));
    }
  }

  /** The message of an OpenAI-shaped error body, or a sentence about the status. */
  async function failureMessage(response) {
    const body = await response.json().catch(() => null);
    return body?.error?.message ?? `the server answered ${response.status} ${response.statusText}`;
  }

  // File upload

  let fileSegments = [];

  function chooseFile(file) {
    elements.fileName.textContent = file ? `${file.name} (${(file.size / 1e6).toFixed(1)} MB)` : 'or drop it here';
    elements.transcribe.disabled = !file;
  }

  elements.file.addEventListener('change', () => chooseFile(elements.file.files[0]));
  elements.drop.addEventListener('dragover', (event) => {
    event.preventDefault();
    elements.drop.classList.add('dragging');
  });
  elements.drop.addEventListener('dragleave', () => elements.drop.classList.remove('dragging'));
  elements.drop.addEventListener('drop', (event) => {
    event.preventDefault();
    elements.drop.classList.remove('dragging');
    if (event.dataTransfer.files.length === 0) return;
    elements.file.files = event.dataTransfer.files;
    chooseFile(elements.file.files[0]);
  });

  elements.form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const file = elements.file.files[0];
    if (!file) return;
    clearError();
    elements.transcribe.disabled = true;
    elements.fileStatus.textContent = 'Uploading and transcribing…';
    const started = performance.now();
    try {
      const body = new FormData();
      body.append('file', file, file.name);
      body.append('model', elements.model.value);
      body.append('response_format', 'verbose_json');
      if (language() !== 'auto') body.append('language', language());
      const response = await fetch('v1/audio/transcriptions', { method: 'POST', headers: authHeaders(), body });
      if (!response.ok) throw new Error(await failureMessage(response));
      const transcript = await response.json();
      fileSegments = transcript.segments ?? [];
      elements.fileSegments.replaceChildren(...fileSegments.map(segmentItem));
      elements.fileResult.hidden = false;
      const seconds = ((performance.now() - started) / 1000).toFixed(1);
      elements.fileStatus.textContent = `Done in ${seconds} s: ${Math.round(transcript.duration ?? 0)} s of audio, ${transcript.language ?? 'unknown language'}.`;
    } catch (error) {
      elements.fileStatus.textContent = '';
      showError(`Transcription failed: ${error.message}`);
    } finally {
      elements.transcribe.disabled = false;
    }
  });

  wireDownloads(
    elements.fileResult,
    () => fileSegments,
    () => (elements.file.files[0]?.name ?? 'transcript').replace(/\.[^.]*$/, ''),
  );

  // Live mode

  const CLOSE_MESSAGES = {
    1006: 'the connection to the server was lost',
    1009: 'an audio message was too large',
    1013: 'the server is busy; try again later',
  };

  let live;
  let liveSegments = [];

  function setLiveState(state, message) {
    elements.liveToggle.textContent = state === 'listening' ? 'Stop' : state === 'idle' ? 'Start listening' : 'Please wait…';
    elements.liveToggle.disabled = state === 'starting' || state === 'finishing';
    elements.liveToggle.setAttribute('aria-pressed', String(state === 'listening'));
    elements.liveWindow.disabled = state !== 'idle';
    if (message !== undefined) elements.liveStatus.textContent = message;
    if (state === 'idle') elements.liveLevel.style.width = '0';
  }

  function streamUrl() {
    const url = new URL('v1/audio/stream', location.href);
    url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
    if (apiKey()) url.searchParams.set('api_key', apiKey());
    return url.href;
  }

  /** A 16 kHz context where the browser can feed the microphone into one, else one at its own rate (the worklet resamples). */
  function openAudio(stream) {
    try {
      const context = new AudioContext({ sampleRate: 16000 });
      try {
        return { context, source: context.createMediaStreamSource(stream) };
      } catch {
        void context.close();
      }
    } catch {
      // This browser cannot run a context at 16 kHz.
    }
    const context = new AudioContext();
    return { context, source: context.createMediaStreamSource(stream) };
  }

  function stopAudio(session) {
    session.stream?.getTracks().forEach((track) => track.stop());
    session.source?.disconnect();
    session.node?.disconnect();
    if (session.context && session.context.state !== 'closed') void session.context.close();
    session.stream = session.source = session.node = session.context = undefined;
  }

  /** Opens the socket and sends the start; resolves once the server is ready for audio. */
  function openSocket(session) {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(streamUrl());
      ws.binaryType = 'arraybuffer';
      session.ws = ws;
      ws.addEventListener('open', () => {
        const start = { type: 'start', format: 's16', windowMs: Number(elements.liveWindow.value), model: elements.model.value };
        if (language() !== 'auto') start.language = language();
        ws.send(JSON.stringify(start));
      });
      ws.addEventListener('message', (event) => {
        const message = JSON.parse(event.data);
        if (message.type === 'ready') resolve();
        else if (message.type === 'segment') addLiveSegment(message);
        else if (message.type === 'done') session.done = true;
        else if (message.type === 'error') session.error = message.error.message;
      });
      ws.addEventListener('open', () => (session.opened = true));
      ws.addEventListener('close', (event) => {
        // A refused upgrade (a wrong key, a server shutting down) reaches a page only as 1006 before open.
        const refused = !session.opened && 'the server refused the connection: check the API key in Settings';
        const failure =
          event.code === 1000 && session.done
            ? undefined
            : session.error || event.reason || refused || CLOSE_MESSAGES[event.code] || `the connection closed (${event.code})`;
        reject(new Error(failure ?? 'the server closed the connection before it was ready'));
        endLive(session, failure);
      });
    });
  }

  function addLiveSegment(segment) {
    liveSegments.push(segment);
    elements.liveSegments.append(segmentItem(segment));
    elements.liveResult.hidden = false;
    elements.liveSegments.lastElementChild.scrollIntoView({ block: 'nearest' });
  }

  function endLive(session, failure) {
    if (live !== session) return;
    live = undefined;
    stopAudio(session);
    if (failure) {
      showError(`Live transcription stopped: ${failure}`);
      setLiveState('idle', '');
    } else {
      setLiveState('idle', `Done: ${liveSegments.length} segment${liveSegments.length === 1 ? '' : 's'}.`);
    }
  }

  async function startLive() {
    clearError();
    if (!window.isSecureContext || !navigator.mediaDevices?.getUserMedia) {
      showError('The microphone needs a secure page: open this page over https, or on localhost.');
      return;
    }
    const session = {};
    live = session;
    liveSegments = [];
    elements.liveSegments.replaceChildren();
    setLiveState('starting', 'Asking for the microphone…');
    try {
      session.stream = await navigator.mediaDevices.getUserMedia({
        audio: { channelCount: 1, echoCancellation: false, noiseSuppression: false, autoGainControl: false },
      });
      Object.assign(session, openAudio(session.stream));
      await session.context.audioWorklet.addModule('page/worklet.js');
      session.node = new AudioWorkletNode(session.context, 'pcm-encoder', { numberOfInputs: 1, numberOfOutputs: 1, outputChannelCount: [1] });
      setLiveState('starting', 'Connecting…');
      await openSocket(session);
      session.node.port.onmessage = (event) => {
        if (session.stopped || session.ws.readyState !== WebSocket.OPEN) return;
        if (event.data === 'flushed') {
          session.stopped = true;
          session.ws.send(JSON.stringify({ type: 'stop' }));
          return;
        }
        session.ws.send(event.data.pcm);
        elements.liveLevel.style.width = `${Math.min(100, Math.round(Math.sqrt(event.data.peak) * 100))}%`;
      };
      session.source.connect(session.node);
      // Connected to the output (silent: the worklet writes nothing) so the browser keeps pulling it.
      session.node.connect(session.context.destination);
      await session.context.resume();
      setLiveState('listening', 'Listening… segments appear as they are ready.');
    } catch (error) {
      if (live === session) {
        session.ws?.close();
        endLive(session, error.message);
      }
    }
  }

  function stopLive() {
    const session = live;
    if (!session) return;
    setLiveState('finishing', 'Finishing the last words…');
    // No more input, then the worklet sends what it holds and 'flushed', which sends the stop.
    session.source.disconnect();
    session.stream.getTracks().forEach((track) => track.stop());
    session.node.port.postMessage('flush');
  }

  elements.liveToggle.addEventListener('click', () => (live ? stopLive() : void startLive()));

  wireDownloads(
    elements.liveResult,
    () => liveSegments,
    () => 'live-transcript',
  );

  void loadModels();
})();
