# speech-realtime as a container image (docs/deploy.md).
#
#   docker build -t speech-realtime .                                  # with the offline engine
#   docker build -t speech-realtime:cloud --build-arg EXTRAS=azure,formats .   # cloud only
#
# EXTRAS are the package's extras: "engine" carries the offline engine and its models (Piper,
# Whisper, ONNX Runtime, CTranslate2), the image's bulk. The install is the README's install
# (scripts/serve's extras by default); tests/test_deploy_image.py runs these RUN lines.
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ARG EXTRAS=azure,engine,formats
WORKDIR /src
COPY pyproject.toml setup.cfg README.md ./
COPY speech_realtime ./speech_realtime
RUN python -m venv /opt/speech-realtime \
    && /opt/speech-realtime/bin/pip install --no-cache-dir --disable-pip-version-check ".[${EXTRAS}]"

# The final stage: the base image (no compilers), the virtual environment, a user of its own.
FROM ${PYTHON_IMAGE}
RUN groupadd --system --gid 10001 speech \
    && useradd --system --uid 10001 --gid speech --no-create-home --home-dir /nonexistent \
       --shell /usr/sbin/nologin speech
COPY --from=build /opt/speech-realtime /opt/speech-realtime
ENV PATH=/opt/speech-realtime/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    HOST=0.0.0.0 \
    PORT=5000 \
    TMPDIR=/tmp
USER 10001:10001
WORKDIR /tmp
EXPOSE 5000
# serve drains on SIGTERM: new connections are refused, requests in flight finish within
# SPEECH_GRACEFUL_TIMEOUT (30 s), gunicorn kills 5 s later. Give the container that long before
# SIGKILL: `docker run --stop-timeout 40`, compose's stop_grace_period, Kubernetes'
# terminationGracePeriodSeconds (Docker's own default, 10 s, would cut the drain).
STOPSIGNAL SIGTERM
# /healthz answers whenever the process does (no key, any Host). The start period covers loading
# the engine's models when serve starts the engine itself. Slim images have no curl: Python asks.
HEALTHCHECK --interval=30s --timeout=5s --start-period=120s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('PORT', '5000'), timeout=4)"]
ENTRYPOINT ["speech-realtime"]
CMD ["serve"]
