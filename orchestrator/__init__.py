"""mec-fabric: a real Hyperledger Fabric testbed for task sharing between MEC edge servers."""

__version__ = "0.1.0"
