# Fabric orderer from a statically linked binary built on the host; orderer.yaml from the
# Fabric module's sampleconfig (see network/scripts/build-images.sh).
ARG BASE=scratch
FROM ${BASE}
COPY rootfs/ /
ENV PATH=/usr/local/bin:/bin FABRIC_CFG_PATH=/etc/hyperledger/fabric
WORKDIR /var/hyperledger
CMD ["orderer"]
