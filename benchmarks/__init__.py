"""Esprit's benchmark (`make bench`): not part of the product, never imported by `pipelines`."""
