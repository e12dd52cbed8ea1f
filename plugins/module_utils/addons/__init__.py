"""Add-ons: the pod network, add-on objects from the inventory, Helm charts."""
