"""tenant-replicator: replicate an Azure subscription into another until the copy is faithful."""
