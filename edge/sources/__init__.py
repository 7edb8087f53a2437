"""Where frames and audio come from.

camera.py      CameraSource: devices, URLs, GStreamer pipelines, video files, image folders (OpenCV)
microphone.py  MicrophoneSource: sounddevice InputStream -> ring -> fixed hops (PortAudio imported lazily)
replay.py      WavReplaySource and open_audio_source(): a WAV file through the same hop cutter
hops.py        AudioRing and HopCutter, shared by microphone and replay
audio.py       read_wav / write_wav / resample / StreamResampler
devices.py     `edge devices` listings and the device checks of `edge check`
benchmark.py   CPU cost of the live microphone path with a synthetic real-time device

Modules are imported on use, so that `import edge.sources` pulls in neither OpenCV nor PortAudio.
"""
