# Fabric peer from statically linked binaries built on the host (network/scripts/build-images.sh
# assembles rootfs/: peer, busybox as /bin/sh, core.yaml from the Fabric module's sampleconfig,
# and our chaincode-as-a-service builder). BASE stays overridable for a fuller base image.
ARG BASE=scratch
FROM ${BASE}
COPY rootfs/ /
ENV PATH=/usr/local/bin:/bin FABRIC_CFG_PATH=/etc/hyperledger/fabric
WORKDIR /var/hyperledger
CMD ["peer", "node", "start"]
