# Toxiproxy's server (network/scripts/build-toxiproxy.sh builds it statically from its Go module),
# busybox as /bin/sh and nc for the link probe's echo server. One per edge with emulated links.
ARG BASE=scratch
FROM ${BASE}
COPY rootfs/ /
ENV PATH=/usr/local/bin:/bin
EXPOSE 8474
CMD ["toxiproxy-server", "-host", "0.0.0.0", "-port", "8474"]
