# The task-sharing chaincode, served as an external service (chaincode-as-a-service).
ARG BASE=scratch
FROM ${BASE}
COPY rootfs/ /
ENV PATH=/usr/local/bin:/bin
EXPOSE 9999
CMD ["chaincode"]
