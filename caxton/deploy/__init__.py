"""Deploys: manifests, the server's store of versions, and the client that pushes."""
