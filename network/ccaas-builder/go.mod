module mecfabric/ccaasbuilder

go 1.25.0
