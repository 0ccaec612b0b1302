# mec-fabric edge agent: Debian bookworm (debootstrap minbase + python3, imported by
# network/scripts/build-agent-image.sh as mecfab/agent-base) plus wheels built on the host
# (the project itself and the few libraries an agent imports), installed offline.
ARG BASE=mecfab/agent-base:bookworm
FROM ${BASE}
COPY wheels/ /tmp/wheels/
RUN python3 -m pip install --no-index --no-deps --no-compile --break-system-packages --root-user-action=ignore \
        --disable-pip-version-check -q /tmp/wheels/*.whl \
    && rm -rf /tmp/wheels /root/.cache \
    && python3 -m orchestrator.agent --help >/dev/null
# Root, like the Fabric images: cryptogen writes the mounted private key 0600 root.
ENV PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1
EXPOSE 8700
ENTRYPOINT ["python3", "-m", "orchestrator.agent"]
