"""The compiled hot path (mypyc): builds kept outside the source tree, loaded only where
they match the sources."""
