"""etcd: the v3 JSON-gateway client, cluster membership and quorum, snapshots, member URLs."""
