"""The cluster's certificates: inventory conventions, the certificate plan, crypto, kubeconfigs, the engine."""
