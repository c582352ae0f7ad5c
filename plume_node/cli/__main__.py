"""`python -m plume_node.cli` is `plume-node`."""

from plume_node.cli import main

main()
