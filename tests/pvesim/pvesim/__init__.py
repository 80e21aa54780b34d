"""pvesim: a simulated Proxmox VE node for nexcage's tests and demo.

Inside `pvesim run --root DIR`, the node's files sit where a real node's do
(/etc/pve, /var/lib/vz, /var/lib/lxc, ...) and the simulated tools come first on
PATH, so the collection runs unmodified. See ../README.md.
"""
